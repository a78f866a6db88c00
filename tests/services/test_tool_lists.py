"""The Runner's and the Tuner's MCP surfaces match their recorded snapshots exactly.

Names, descriptions and input/output schemas are what clients rely on, and
the full tier diffs the tool lists to decide a release's bump; a refactoring
must leave them byte-identical. A deliberate change to a surface updates its
snapshot: ``PYTHONPATH=. python -m tests.services.test_tool_lists <home>``
rewrites both from the current code (``<home>`` a scratch directory).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import anyio
import pytest
from mcp.server.mcpserver import MCPServer

from ratchet.bootstrap import initialize
from ratchet.objects import open_object_store
from ratchet.sessions import SessionStore
from ratchet.state import open_state_manager
from services.runner.app import build_server as build_runner
from services.runner.runtime import RunnerRuntime
from services.runner.settings import RunnerSettings
from services.tuner.app import build_server as build_tuner
from services.tuner.settings import TunerSettings

SNAPSHOTS = Path(__file__).parent / "snapshots"

pytestmark = pytest.mark.anyio


async def surface(server: MCPServer) -> str:
    """Every listed tool and resource template, as the JSON a client receives."""
    tools = [t.model_dump(mode="json", by_alias=True) for t in await server.list_tools()]
    templates = [
        t.model_dump(mode="json", by_alias=True) for t in await server.list_resource_templates()
    ]
    body = {"tools": tools, "resource_templates": templates}
    return json.dumps(body, indent=2, sort_keys=True) + "\n"


async def runner_surface(home: Path, project: Path) -> str:
    settings = RunnerSettings(home=home, project_root=project, port=0)
    initialize(settings)
    runtime = RunnerRuntime(settings, open_state_manager(settings), open_object_store(settings))
    try:
        return await surface(build_runner(runtime))
    finally:
        runtime.stop()


async def tuner_surface(home: Path, project: Path) -> str:
    settings = TunerSettings(home=home, project_root=project, port=0)
    initialize(settings)
    sessions = SessionStore.open(settings)
    try:
        return await surface(build_tuner(settings, open_state_manager(settings), sessions))
    finally:
        sessions.close()


async def test_the_runners_tool_list_is_unchanged(tmp_path: Path, source_repo: Path) -> None:
    listed = await runner_surface(tmp_path / "home", source_repo)
    assert listed == (SNAPSHOTS / "runner.json").read_text()


async def test_the_tuners_tool_list_is_unchanged(tmp_path: Path, source_repo: Path) -> None:
    listed = await tuner_surface(tmp_path / "home", source_repo)
    assert listed == (SNAPSHOTS / "tuner.json").read_text()


async def _rewrite(scratch: Path) -> None:
    project = Path(__file__).resolve().parents[2]
    (SNAPSHOTS / "runner.json").write_text(await runner_surface(scratch / "runner", project))
    (SNAPSHOTS / "tuner.json").write_text(await tuner_surface(scratch / "tuner", project))


if __name__ == "__main__":
    anyio.run(_rewrite, Path(sys.argv[1]))
