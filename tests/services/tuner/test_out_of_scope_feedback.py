"""Feedback on a task with out-of-scope rows: "this turn was out of scope" and "this
out-of-scope answer was wrong, the intent was X" are both accepted, stored and rewarded."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from ratchet.sessions import SessionStore
from ratchet.state import open_state_manager
from services.tuner import app
from services.tuner.intake import FeedbackRejected, Intake, reward_of
from services.tuner.settings import TunerSettings
from tests.helpers.mcp import call
from tests.helpers.oos_task import serving_tree
from tests.services.tuner.conftest import answered

LABELS = ("weather", "music", "alarm", "lights")


def intake(settings: TunerSettings, sessions: SessionStore, oos: str | None = "oos") -> Intake:
    return Intake(sessions, open_state_manager(settings), LABELS, oos_label=oos)


def test_both_out_of_scope_corrections_are_accepted_and_rewarded(
    tuner_settings: TunerSettings, sessions: SessionStore
) -> None:
    answered(sessions, "said-weather", intent="weather", arm="centroid")
    answered(sessions, "said-oos", intent="oos", arm="blend")  # an out-of-scope answer
    answered(sessions, "said-oos-rightly", intent="oos", arm="blend")
    feedback = intake(tuner_settings, sessions)
    feedback.submit("said-weather", None, "oos", None, None)  # "this turn was out of scope"
    feedback.submit("said-oos", None, "music", None, None)  # "wrong: the intent was music"
    feedback.submit("said-oos-rightly", None, "oos", None, None)  # confirmed
    rows = {row["conversation_id"]: row for row in sessions.feedback_after(0)}
    assert rows["said-weather"]["correct_intent"] == "oos"
    assert rows["said-oos"]["correct_intent"] == "music" and rows["said-oos"]["intent"] == "oos"
    rewards = {cid: reward_of(row) for cid, row in rows.items()}
    assert rewards == {"said-weather": 0.0, "said-oos": 0.0, "said-oos-rightly": 1.0}
    mistakes = {(answered_as, correct) for _, answered_as, correct in sessions.corrected_mistakes()}
    assert mistakes == {("weather", "oos"), ("oos", "music")}
    staging = feedback.apply_pending()
    arms = staging.data["strategy"]["arms"]
    assert arms["blend"]["alpha"] == 2.0 and arms["blend"]["beta"] == 2.0  # one right, one wrong


def test_the_oos_label_is_rejected_where_the_task_declares_none(
    tuner_settings: TunerSettings, sessions: SessionStore
) -> None:
    answered(sessions, "c1", intent="weather")
    with pytest.raises(
        FeedbackRejected, match=r"unknown intent 'oos': use one of the 4 intents of"
    ):
        intake(tuner_settings, sessions, oos=None).submit("c1", None, "oos", None, None)
    with pytest.raises(FeedbackRejected, match=r"or 'oos' for out of scope"):
        intake(tuner_settings, sessions).submit("c1", None, "no_such", None, None)
    assert sessions.feedback_after(0) == []


@pytest.mark.anyio
async def test_the_feedback_tool_takes_the_tasks_oos_label(
    tuner_settings: TunerSettings,
    sessions: SessionStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The Tuner reads the oos label from the task its tree serves."""
    monkeypatch.setattr(app, "PROJECT_ROOT", serving_tree(tmp_path / "tree"))
    answered(sessions, "c1", intent="weather")
    answered(sessions, "c2", intent="oos")
    server = app.build_server(tuner_settings, open_state_manager(tuner_settings), sessions)
    async with Client(server) as client:
        first = await call(client, "feedback", conversation_id="c1", correct_intent="oos")
        second = await call(client, "feedback", conversation_id="c2", correct_intent="alarm")
        wrong = await client.call_tool("feedback", {"conversation_id": "c1", "correct_intent": "x"})
    assert first["feedback_id"] and second["feedback_id"]
    assert wrong.is_error and "or 'oos' for out of scope" in str(wrong.content)
