"""``preference`` called directly: a comparison refits the strengths; a bad one is an error."""

from __future__ import annotations

import pytest
from mcp.server.mcpserver.exceptions import ToolError

from ratchet.sessions import SessionStore
from services.tuner.context import TunerContext
from services.tuner.tools.preferences import PreferenceTool

pytestmark = pytest.mark.anyio


def tool(context: TunerContext) -> PreferenceTool:
    return PreferenceTool(context.manager, context.sessions, context.labels)


async def test_a_preferred_reply_becomes_the_suggested_one(context: TunerContext) -> None:
    result = await tool(context).preference("card_arrival", "card_arrival.b", "card_arrival.a")
    assert (result.duplicate, result.comparisons, result.suggested) == (
        False,
        1,
        "card_arrival.b",
    )
    assert result.strengths["card_arrival.b"] > 0 > result.strengths["card_arrival.a"]
    staging = context.manager.read_staging()
    assert staging.revision == result.staging_revision
    assert all(r["strength"] == 0 for r in staging.data["replies"]["atm_support"])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("no_such", "a", "b"), "unknown intent 'no_such'"),
        (("card_arrival", "x", "card_arrival.a"), "winner 'x' is not a reply of card_arrival"),
        (("card_arrival", "card_arrival.a", "card_arrival.a"), "must be different replies"),
        (("card_arrival", "card_arrival.a", "card_arrival.b", ""), "idempotency_key must have"),
    ],
)
async def test_a_bad_comparison_is_a_tool_error_and_nothing_is_stored(
    context: TunerContext, sessions: SessionStore, arguments: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ToolError, match=message):
        await tool(context).preference(*arguments)
    assert sessions.preferences("card_arrival") == []
