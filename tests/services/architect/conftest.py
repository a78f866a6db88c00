"""Fixtures for the Architect's tests: a home cloned from this project, diffs against it.

The workspace is a clone of the project's committed HEAD, so diffs are made
from the workspace's own files (whatever HEAD holds), never hard-coded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ratchet.bootstrap import initialize
from services.architect.settings import ArchitectSettings
from tests.conftest import PROJECT_ROOT, git

HELDOUT_SAMPLE = 300  # the full tier on a spread tenth of the held-out split: quicker


def architect_settings(home: Path, **overrides: Any) -> ArchitectSettings:
    settings = ArchitectSettings(
        home=home,
        project_root=PROJECT_ROOT,
        port=0,
        fast_tests=[],
        heldout_sample=HELDOUT_SAMPLE,
        full_shards=2,
        **{"tuner_url": "", **overrides},  # never a Tuner another fleet runs on :8002
    )
    initialize(settings)
    return settings


def settings_env(settings: ArchitectSettings) -> dict[str, str]:
    return {
        "RATCHET_HOME": str(settings.home_path),
        "RATCHET_ARCHITECT_PORT": "0",
        "RATCHET_ARCHITECT_FAST_TESTS": json.dumps(settings.fast_tests),
        "RATCHET_ARCHITECT_HELDOUT_SAMPLE": str(settings.heldout_sample),
        "RATCHET_ARCHITECT_FULL_SHARDS": str(settings.full_shards),
        "RATCHET_ARCHITECT_TUNER_URL": settings.tuner_url,
    }


def diff_of(workspace: Path, path: str, change: Callable[[str], str]) -> str:
    """A unified diff of ``change`` applied to ``path`` at the workspace's HEAD."""
    target = workspace / path
    original = target.read_text()
    changed = change(original)
    assert changed != original, f"the change does not alter {path}"
    target.write_text(changed)
    try:
        return git(workspace, "diff", "--", path) + "\n"
    finally:
        git(workspace, "checkout", "--", path)


def json_diff(workspace: Path, path: str, change: Callable[[Any], None]) -> str:
    def edit(text: str) -> str:
        document = json.loads(text)
        change(document)
        return json.dumps(document, indent=2) + "\n"

    return diff_of(workspace, path, edit)


NEW_TOOL = """    @server.tool(description="The version that serves this call.")
    async def serving_version() -> str:
        return runtime.served.version

"""

REGISTER_SESSION = "    session.register(server, runtime)\n"


def good_patch(workspace: Path) -> str:
    """A compatible change: the Runner gains a tool ``serving_version``."""
    return diff_of(
        workspace,
        "services/runner/app.py",
        lambda s: s.replace(REGISTER_SESSION, NEW_TOOL + REGISTER_SESSION, 1),
    )


def renaming_patch(workspace: Path) -> str:
    """Renames the Runner's ``serving_version`` tool (the good patch's): incompatible."""
    return diff_of(
        workspace,
        "services/runner/app.py",
        lambda s: s.replace("async def serving_version()", "async def version_serving()", 1),
    )
