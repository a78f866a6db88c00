"""``promote``: micro-gated patch releases, refusals with reasons, the Runner swapping."""

from __future__ import annotations

import pytest
from mcp import Client

from ratchet.bootstrap import release_store
from ratchet.sessions import SessionStore
from ratchet.state import open_state_manager
from services.tuner.app import build_server
from services.tuner.settings import TunerSettings
from tests.conftest import git
from tests.helpers.mcp import call
from tests.helpers.processes import home_env, running
from tests.services.tuner.conftest import answered

pytestmark = pytest.mark.anyio


async def test_feedback_then_promote_releases_a_patch(
    project_home: TunerSettings, store: SessionStore
) -> None:
    answered(store, "c1", arm="blend")
    async with Client(build_server(project_home, open_state_manager(project_home), store)) as c:
        await call(c, "feedback", conversation_id="c1", reward=1.0)
        result = await call(c, "promote")
        again = await call(c, "promote")
        status = await call(c, "status")
    assert result["promoted"] is True and result["version"] == "v0.1.1"
    assert again["promoted"] is False and "nothing to release" in again["reason"]
    assert status["active_version"] == "v0.1.1"
    release = release_store(project_home).get("v0.1.1")
    assert release.metadata.author == "tuner" and release.kind == "patch"
    assert release.metadata.parent == "v0.1.0"
    assert release.metadata.model_extra is not None
    assert release.metadata.model_extra["feedback_applied"] == 1
    committed = git(project_home.workspace_path, "show", "v0.1.1:state/active.state.json")
    assert '"alpha": 2.0' in committed  # the tag carries the state it released


async def test_pinned_refuses_with_a_clear_message(
    project_home: TunerSettings, store: SessionStore
) -> None:
    answered(store, "c1")
    manager = open_state_manager(project_home)
    manager.pin(actor="oncall", reason="incident 7")
    async with Client(build_server(project_home, manager, store)) as c:
        await call(c, "feedback", conversation_id="c1", reward=1.0)
        result = await call(c, "promote")
    assert result["promoted"] is False and result["version"] == "v0.1.0"
    assert "pinned" in result["reason"] and "incident 7" in result["reason"]
    assert git(project_home.workspace_path, "tag", "-l") == "v0.1.0"


async def test_a_state_failing_micro_is_not_released(
    project_home: TunerSettings, store: SessionStore
) -> None:
    manager = open_state_manager(project_home)
    manager.update_staging(  # a rule that sends every card question to the wrong intent
        lambda d: {**d, "rules": [{"id": "bad", "all_of": ["card"], "intent": "top_up_failed"}]},
        actor="test",
    )
    async with Client(build_server(project_home, manager, store)) as c:
        result = await call(c, "promote")
    assert result["promoted"] is False
    assert result["reason"].startswith("micro failed:") and "top_up_failed" in result["reason"]
    assert git(project_home.workspace_path, "tag", "-l") == "v0.1.0"
    assert git(project_home.workspace_path, "status", "--porcelain") == ""


@pytest.mark.slow
async def test_promote_over_mcp_and_the_runner_answers_with_the_patch(
    project_home: TunerSettings,
) -> None:
    env = home_env(
        project_home.home_path,
        RATCHET_RUNNER_PORT="0",
        RATCHET_TUNER_PORT="0",
        RATCHET_RUNNER_POLL_INTERVAL="0.05",
    )
    with running("services.runner", env) as runner, running("services.tuner", env) as tuner:
        async with Client(f"{runner.url}/mcp") as r, Client(f"{tuner.url}/mcp") as t:
            first = await call(r, "route", text="I am still waiting on my card?")
            await call(
                t,
                "feedback",
                conversation_id=first["conversation_id"],
                correct_intent="card_arrival",
                idempotency_key="fb-1",
            )
            promoted = await call(t, "promote")
            assert promoted["promoted"], promoted["reason"]
            for _ in range(200):  # the Runner hears the move on its next poll
                answer = await call(
                    r, "route", text="card?", conversation_id=first["conversation_id"]
                )
                if answer["version"] == promoted["version"]:
                    break
    assert answer["version"] == "v0.1.1" and answer["state_revision"] >= 1
