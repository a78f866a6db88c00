"""``feedback`` called directly: stored, applied on request, counted once, or rejected."""

from __future__ import annotations

import pytest
from mcp.server.mcpserver.exceptions import ToolError

from ratchet.sessions import SessionStore
from services.tuner.context import TunerContext
from services.tuner.tools.feedback import FeedbackTool
from tests.helpers.turns import answered

pytestmark = pytest.mark.anyio


def tool(context: TunerContext) -> FeedbackTool:
    return FeedbackTool(context.intake, context.applier)


async def test_feedback_with_wait_answers_once_staging_holds_it(
    context: TunerContext, sessions: SessionStore
) -> None:
    answered(sessions, "c1", arm="blend")
    result = await tool(context).feedback("c1", reward=1.0, wait=True)
    assert (result.conversation_id, result.turn, result.answered_version) == ("c1", 1, "v0.1.0")
    assert result.applied and not result.duplicate and result.feedback_id is not None
    assert result.staging_revision == context.manager.read_staging().revision


async def test_a_repeated_idempotency_key_is_a_duplicate_without_an_id(
    context: TunerContext, sessions: SessionStore
) -> None:
    answered(sessions, "c1")
    first = await tool(context).feedback("c1", reward=0.0, idempotency_key="k")
    again = await tool(context).feedback("c1", reward=0.0, idempotency_key="k")
    assert (first.duplicate, again.duplicate) == (False, True)
    assert again.feedback_id is None and not again.applied
    assert sessions.feedback_total()[0] == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"conversation_id": "c1"}, "give correct_intent, reward or both"),
        ({"conversation_id": "c1", "reward": 2.0}, "out of range"),
        ({"conversation_id": "nobody", "reward": 1.0}, "was answered by the Runner"),
        ({"conversation_id": "c1", "correct_intent": "no_such_intent"}, "unknown intent"),
    ],
)
async def test_rejected_feedback_is_a_tool_error_and_nothing_is_stored(
    context: TunerContext, sessions: SessionStore, arguments: dict[str, object], message: str
) -> None:
    answered(sessions, "c1")
    with pytest.raises(ToolError, match=message):
        await tool(context).feedback(**arguments)  # type: ignore[arg-type]
    assert sessions.feedback_total()[0] == 0
