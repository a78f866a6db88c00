"""The Tuner's feedback intake over MCP (in-process): join, store, apply, reject."""

from __future__ import annotations

import math
from typing import Any

import pytest
from mcp import Client

from ratchet import datasets
from ratchet.sessions import SessionStore
from ratchet.state import open_state_manager
from services.tuner.app import build_server
from services.tuner.intake import WATERMARK, Intake
from services.tuner.settings import TunerSettings
from tests.conftest import PROJECT_ROOT
from tests.helpers.mcp import call
from tests.services.tuner.conftest import answered, settled

pytestmark = pytest.mark.anyio


def server(settings: TunerSettings, sessions: SessionStore) -> Any:
    return build_server(settings, open_state_manager(settings), sessions)


async def test_reward_updates_the_conversations_arm(
    tuner_settings: TunerSettings, sessions: SessionStore
) -> None:
    answered(sessions, "c1", arm="blend")
    async with Client(server(tuner_settings, sessions)) as client:
        before = await call(client, "status")
        result = await call(client, "feedback", conversation_id="c1", reward=1.0, wait=True)
        after = await call(client, "status")
    assert result["turn"] == 1 and result["answered_version"] == "v0.1.0"
    assert result["duplicate"] is False
    assert after["arms"]["blend"]["alpha"] == before["arms"]["blend"]["alpha"] + 1
    assert after["arms"]["centroid"] == before["arms"]["centroid"]
    assert result["applied"] is True
    assert after["staging_revision"] == before["staging_revision"] + 1 == result["staging_revision"]
    assert (after["feedback_total"], after["feedback_applied"], after["feedback_pending"]) == (
        1,
        1,
        0,
    )


async def test_a_correction_is_a_reward_of_one_or_zero(
    tuner_settings: TunerSettings, sessions: SessionStore
) -> None:
    answered(sessions, "right", intent="card_arrival")
    answered(sessions, "wrong", intent="card_arrival")
    async with Client(server(tuner_settings, sessions)) as client:
        await call(client, "feedback", conversation_id="right", correct_intent="card_arrival")
        await call(
            client, "feedback", conversation_id="wrong", correct_intent="lost_or_stolen_card"
        )
        arms = (await settled(client))["arms"]
    # v0.1.0's prior on centroid is (2, 1): one success and one failure on top.
    assert (arms["centroid"]["alpha"], arms["centroid"]["beta"]) == (3.0, 2.0)


async def test_a_repeated_idempotency_key_counts_once(
    tuner_settings: TunerSettings, sessions: SessionStore
) -> None:
    answered(sessions, "c1")
    async with Client(server(tuner_settings, sessions)) as client:
        first = await call(
            client, "feedback", conversation_id="c1", reward=1.0, idempotency_key="k-1"
        )
        again = await call(
            client, "feedback", conversation_id="c1", reward=1.0, idempotency_key="k-1"
        )
        status = await settled(client)
    assert first["duplicate"] is False and again["duplicate"] is True
    assert again["feedback_id"] is None
    assert (status["feedback_total"], status["feedback_applied"]) == (1, 1)
    assert status["arms"]["centroid"]["alpha"] == 3.0  # the prior's 2, plus one


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"conversation_id": "nobody", "reward": 1.0}, "no conversation 'nobody'"),
        ({"conversation_id": "c1", "turn": 7, "reward": 1.0}, "no turn 7"),
        ({"conversation_id": "c1", "turn": 0, "reward": 1.0}, "turn counts from 1"),
        ({"conversation_id": "c1", "correct_intent": "pizza_order"}, "unknown intent"),
        ({"conversation_id": "c1", "reward": 1.5}, "out of range"),
        ({"conversation_id": "c1", "reward": -0.1}, "out of range"),
        ({"conversation_id": "c1"}, "give correct_intent, reward or both"),
        ({"conversation_id": "bad id", "reward": 1.0}, "malformed conversation_id"),
        ({"conversation_id": "c1", "reward": "lots"}, "valid number"),
    ],
)
async def test_bad_feedback_is_an_error_and_nothing_is_stored(
    tuner_settings: TunerSettings,
    sessions: SessionStore,
    arguments: dict[str, Any],
    message: str,
) -> None:
    answered(sessions, "c1")
    async with Client(server(tuner_settings, sessions)) as client:
        result = await client.call_tool("feedback", arguments)
        status = await call(client, "status")
    assert result.is_error
    assert message in result.content[0].text  # type: ignore[union-attr]
    assert status["feedback_total"] == 0


async def test_an_unknown_intent_is_refused_naming_the_task_and_its_label_count(
    tuner_settings: TunerSettings, sessions: SessionStore
) -> None:
    task = datasets.task(PROJECT_ROOT)
    answered(sessions, "c1")
    async with Client(server(tuner_settings, sessions)) as client:
        result = await client.call_tool(
            "feedback", {"conversation_id": "c1", "correct_intent": "pizza_order"}
        )
    assert result.is_error
    assert (
        f"unknown intent 'pizza_order': use one of the {len(task.labels)} intents of task "
        f"{task.name}" in result.content[0].text  # type: ignore[union-attr]
    )


def test_non_finite_rewards_are_refused(
    tuner_settings: TunerSettings, sessions: SessionStore
) -> None:
    from services.tuner.intake import FeedbackRejected

    answered(sessions, "c1")
    intake = Intake(sessions, open_state_manager(tuner_settings), ("card_arrival",))
    with pytest.raises(FeedbackRejected, match="out of range"):
        intake.submit("c1", None, None, math.nan, None)


def test_feedback_stored_before_a_crash_is_applied_later(
    tuner_settings: TunerSettings, sessions: SessionStore
) -> None:
    """Stored but not applied (the process died in between): the next apply takes it."""
    answered(sessions, "c1")
    answered(sessions, "c2")
    sessions.record_feedback(
        "c1", 1, correct_intent=None, reward=1.0, idempotency_key=None, source="tuner"
    )
    manager = open_state_manager(tuner_settings)
    intake = Intake(sessions, manager, ("card_arrival",))
    assert intake.pending(manager.read_staging()) == 1
    accepted = intake.submit("c2", None, None, 0.0, None)
    staging = intake.apply_pending(through=accepted.feedback_id)
    assert (staging.tuning or {})[WATERMARK] == accepted.feedback_id
    assert intake.pending(staging) == 0
    arm = staging.data["strategy"]["arms"]["centroid"]
    assert (arm["alpha"], arm["beta"]) == (3.0, 2.0)  # prior (2, 1), a success, a failure
    assert intake.apply_pending(through=accepted.feedback_id).revision == staging.revision
