"""Feedback and ``promote`` through the Tuner's MCP server (the official client, in
process) after an Architect-style minor release: the patch is the new release's state
with the feedback, not the state staging held before the release.

The home serves the toy task with this project's agent code (the micro tier runs it).
Staging exists before the release (feedback was applied to it); the release adds the
`knn` arm and the `abstain_threshold` param and drops the `blend` arm.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from ratchet.bootstrap import release_store
from ratchet.promotion import release_state
from ratchet.sessions import SessionStore
from ratchet.state import StateManager, open_state_manager
from ratchet.vcs import ReleaseKind
from services.tuner.app import build_server
from services.tuner.settings import TunerSettings
from tests.conftest import git
from tests.helpers.mcp import call

from .conftest import answered, initialised_home, settled
from .test_tune_release_server import toy_project

pytestmark = pytest.mark.anyio


def minor_release(manager: StateManager, settings: TunerSettings) -> str:
    """What the Architect's release of a template does to the state, by hand."""
    active = manager.read_active()
    assert active is not None
    data = active.document.data
    arms = {k: v for k, v in data["strategy"]["arms"].items() if k != "blend"}
    arms["knn"] = {"alpha": 4.0, "beta": 1.0, "retired": False}
    threshold = {"value": 0.0, "low": 0.0, "high": 1.0}
    new = {
        **data,
        "strategy": {**data["strategy"], "arms": arms},
        "params": {**data["params"], "abstain_threshold": threshold},
    }
    return release_state(
        manager,
        release_store(settings),
        active.document.model_copy(update={"data": new}),
        kind=ReleaseKind.MINOR,
        author="architect",
        reason="a template: a k-NN arm, abstain when unsure",
    ).version


async def test_feedback_and_promote_after_a_minor_release_keep_its_state(
    tmp_path: Path,
) -> None:
    settings = initialised_home(tmp_path / "home", toy_project(tmp_path / "project"))
    manager = open_state_manager(settings)
    sessions = SessionStore.open(settings)
    try:
        answered(sessions, "c1", arm="centroid")
        answered(sessions, "c2", arm="knn")
        async with Client(build_server(settings, manager, sessions)) as client:
            await call(client, "feedback", conversation_id="c1", reward=1.0)
            await settled(client)  # staging now holds v0.1.0's state and one feedback
            minor = minor_release(manager, settings)
            released = manager.read_active()
            await call(client, "feedback", conversation_id="c2", reward=1.0)
            result = await call(client, "promote")
            status = await call(client, "status")
    finally:
        sessions.close()
    assert released is not None and minor == "v0.2.0"
    assert result["promoted"] is True, result["reason"]
    assert result["version"] == status["active_version"] == "v0.2.1"
    active = manager.read_active()
    assert active is not None
    arms, was = active.document.data["strategy"]["arms"], released.document.data
    assert set(arms) == {"centroid", "knn"} == set(status["arms"])
    assert arms["centroid"]["alpha"] == was["strategy"]["arms"]["centroid"]["alpha"] + 1
    assert arms["knn"]["alpha"] == 5.0
    assert active.document.data["params"] == was["params"]
    assert result["feedback_applied"] == 2
    committed = git(settings.workspace_path, "show", "v0.2.1:state/active.state.json")
    assert '"knn"' in committed and '"blend"' not in committed
