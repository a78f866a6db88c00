"""``tune_release`` through the Tuner's MCP server (the official client, in process), on a
home serving the toy task with this project's agent code: a minor release that declares a
new param gets the Tuner's patch when tuning it wins on dev, and no release when it does not.

v0.1.0 declares no ``abstain_threshold``; the minor release adds it at 0. Over [0, 1]
CMA-ES raises it and dev gains (the toy task's out-of-scope rows are answered out of
scope); over [0, 0.01] no answer's confidence (at least 1/4 over four intents) is below
it, so nothing can move dev by the noise margin.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from ratchet.bootstrap import release_store
from ratchet.promotion import release_state
from ratchet.sessions import SessionStore
from ratchet.state import StateManager, open_state_manager
from ratchet.vcs import ReleaseKind
from services.tuner.app import build_server
from tests.conftest import PROJECT_ROOT, git
from tests.helpers.mcp import call
from tests.helpers.oos_task import serving_tree

from .conftest import initialised_home

pytestmark = pytest.mark.anyio


GOLDEN = [
    {"text": "bright lamp lights", "intent": "lights"},
    {"text": "song track album", "intent": "music"},
    {"text": "wake early morning", "intent": "alarm"},
    {"text": "sunny storm umbrella", "intent": "weather"},
]


def toy_project(root: Path) -> Path:
    """A committed project: the toy task, this project's code, a state without abstaining,
    the micro tier's golden cases for the toy task."""
    serving_tree(root, with_code=True)
    (root / "tests" / "golden").mkdir(parents=True)
    (root / "tests" / "golden" / "micro.json").write_text(json.dumps({"cases": GOLDEN}))
    state = json.loads((PROJECT_ROOT / "state" / "active.state.json").read_text())
    del state["data"]["params"]["abstain_threshold"]
    (root / "state").mkdir()
    (root / "state" / "active.state.json").write_text(json.dumps(state, indent=2))
    (root / "state" / ".gitignore").write_text((PROJECT_ROOT / "state" / ".gitignore").read_text())
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "toy project")
    return root


def architect_release(manager: StateManager, settings: Any, high: float) -> str:
    """What a template's minor release does to the state: a new bounded param, by hand."""
    active = manager.read_active()
    assert active is not None and "abstain_threshold" not in active.document.data["params"]
    data = active.document.data
    params = {**data["params"], "abstain_threshold": {"value": 0.0, "low": 0.0, "high": high}}
    document = active.document.model_copy(update={"data": {**data, "params": params}})
    release = release_state(
        manager,
        release_store(settings),
        document,
        kind=ReleaseKind.MINOR,
        author="architect",
        reason="a template: abstain when unsure",
    )
    return release.version


async def outcome(client: Client, timeout: float = 120) -> dict[str, Any]:
    """``status``'s release tuning once it is final."""
    deadline = time.monotonic() + timeout
    while (tuning := (await call(client, "status"))["release_tuning"])["phase"] == "running":
        assert time.monotonic() < deadline, f"still tuning after {timeout} s: {tuning}"
        await anyio.sleep(0.05)
    return dict(tuning)


@pytest.mark.parametrize(("high", "released"), [(1.0, True), (0.01, False)])
async def test_a_release_with_a_new_param_gets_a_patch_only_when_tuning_wins(
    tmp_path: Path, high: float, released: bool
) -> None:
    settings = initialised_home(tmp_path / "home", toy_project(tmp_path / "project"))
    manager = open_state_manager(settings)
    minor = architect_release(manager, settings, high)
    sessions = SessionStore.open(settings)
    try:
        async with Client(build_server(settings, manager, sessions)) as client:
            asked = await call(client, "tune_release", evaluations=16)
            assert (asked["phase"], asked["release"]) == ("running", minor)
            assert "abstain_threshold" in asked["params"]
            tuned = await outcome(client)
            again = await call(client, "tune_release", evaluations=16)
    finally:
        sessions.close()
    assert tuned["study_restarted"] and tuned["done"] == 16
    active = manager.read_active()
    assert active is not None
    versions = [r.version for r in release_store(settings).releases()]
    if released:
        assert tuned["phase"] == "released", tuned["reason"]
        assert tuned["version"] == active.version == "v0.2.1" == versions[0]
        assert tuned["reason"].startswith("tuned 4 params after v0.2.0: dev ")
        assert tuned["dev_best"] > tuned["dev_before"] + 0.005
        assert active.document.data["params"]["abstain_threshold"]["value"] > 0
        assert release_store(settings).releases()[0].metadata.reason == tuned["reason"]
    else:
        assert tuned["phase"] == "kept", tuned
        assert "noise margin" in tuned["reason"]
        assert active.version == minor == versions[0]
    assert again["phase"] == "done", again
