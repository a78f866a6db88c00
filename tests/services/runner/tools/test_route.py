"""``route`` called directly: an answer per turn, bad input rejected and audited, a crash hidden."""

from __future__ import annotations

import pytest
from mcp.server.mcpserver.exceptions import ToolError

from services.runner.runtime import RunnerRuntime
from services.runner.tools.route import BadInput, RouteTool
from tests.services.runner.cases import messages

pytestmark = pytest.mark.anyio


async def test_turns_of_one_conversation_are_numbered_on_the_same_arm(
    runtime: RunnerRuntime,
) -> None:
    tool = RouteTool(runtime)
    text, then = messages(2)
    first = await tool.route(text)
    second = await tool.route(then, conversation_id=first.conversation_id)
    # The conversation's arm is drawn from its (random) id: the answer is that arm's.
    arm = runtime.served.router.choose_arm(first.conversation_id)
    expected = runtime.served.router.predict(text, arm)
    assert first.arm == arm
    assert first.intent == expected.intent and len(first.alternatives) == 3
    assert (first.turn, second.turn) == (1, 2)
    assert second.arm == first.arm
    assert (first.version, first.state_revision) == (
        runtime.served.version,
        runtime.served.revision,
    )


async def test_bad_input_is_rejected_and_audited_as_rejected(runtime: RunnerRuntime) -> None:
    tool = RouteTool(runtime)
    cases = [
        ("   ", None, "text is empty"),
        ("x" * 2001, None, "text has 2001 characters; the limit is 2000"),
        ("hi", "-starts-with-a-dash", "conversation_id is malformed"),
    ]
    for text, conversation_id, message in cases:
        with pytest.raises(BadInput, match=message):
            await tool.route(text, conversation_id)
    stats = runtime.audit.window(60, tool="route")
    assert (stats.calls, stats.rejected, stats.errors) == (3, 3, 0)


def test_a_new_conversation_gets_a_fresh_id_and_a_given_one_is_kept(
    runtime: RunnerRuntime,
) -> None:
    tool = RouteTool(runtime)
    assert tool.check("hello", "conv-1") == "conv-1"
    assert tool.check("hello", None) != tool.check("hello", None)


async def test_a_conversation_the_call_starts_is_not_looked_up(
    runtime: RunnerRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a given conversation id can have turns to read: a first turn skips the query
    (on a database server, a round trip)."""
    asked: list[str] = []
    lookup = runtime.sessions.assignment_of

    def counted(conversation_id: str) -> tuple[str, str | None] | None:
        asked.append(conversation_id)
        return lookup(conversation_id)

    monkeypatch.setattr(runtime.sessions, "assignment_of", counted)
    tool = RouteTool(runtime)
    first = await tool.route(messages(1)[0])
    assert asked == []
    second = await tool.route(messages(2)[1], first.conversation_id)
    assert asked == [first.conversation_id]
    assert (second.turn, second.arm) == (2, first.arm)
    given = await tool.route(messages(1)[0], "conv-given")
    assert asked[-1] == "conv-given" and given.turn == 1


async def test_a_crash_is_a_one_line_tool_error_and_audited_as_an_error(
    runtime: RunnerRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("model exploded")

    monkeypatch.setattr(runtime.served.router, "predict", broken)
    with pytest.raises(ToolError, match=r"^route failed on the server; the call was not recorded$"):
        await RouteTool(runtime).route(messages(1)[0])
    stats = runtime.audit.window(60, tool="route")
    assert (stats.calls, stats.errors) == (1, 1)
