"""``route`` called directly: an answer per turn, bad input rejected and audited, a crash
hidden; over HTTP, the call's audit row and metrics follow its answer."""

from __future__ import annotations

import httpx
import pytest
from mcp.server.mcpserver.exceptions import ToolError
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.types import Message, Receive, Scope, Send

from services.runner.app import build_app
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


async def test_the_audit_row_is_written_once_the_answer_is_sent(runtime: RunnerRuntime) -> None:
    """Over HTTP the client does not wait for the call's audit row: the turn is
    committed before the answer, the row right after it, before the request ends."""
    app = build_app(runtime)
    audited: list[tuple[str, int]] = []

    async def observed(scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.body":
                audited.append(("answer sent", runtime.audit.count()))
            await send(message)

        await app(scope, receive, sending)
        audited.append(("request ended", runtime.audit.count()))

    params = {"name": "route", "arguments": {"text": messages(1)[0]}}
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
    headers = {"accept": "application/json, text/event-stream"}
    transport = httpx.ASGITransport(app=observed)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost:1") as http:
            answer = (await http.post("/mcp", json=call, headers=headers)).json()
        turn = answer["result"]["structuredContent"]
        assert runtime.sessions.turn(turn["conversation_id"]) is not None
        assert audited == [("answer sent", 0), ("request ended", 1)]
        assert runtime.audit.window(60, tool="route").calls == 1


async def test_a_calls_latency_is_an_exemplar_naming_its_span(
    runtime: RunnerRuntime, spans: InMemorySpanExporter, metric_reader: InMemoryMetricReader
) -> None:
    """Over HTTP the metrics are recorded after the answer, once the call's span has
    ended: its context is passed on, so a latency bucket leads to a call's trace."""
    app = build_app(runtime)
    params = {"name": "route", "arguments": {"text": messages(1)[0]}}
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
    headers = {"accept": "application/json, text/event-stream"}
    spans.clear()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost:1") as http:
            assert (await http.post("/mcp", json=call, headers=headers)).status_code == 200
    span = next(s for s in spans.get_finished_spans() if s.name == "tools/call route")
    assert span.context is not None
    data = metric_reader.get_metrics_data()
    assert data is not None, "no metrics: was the global meter provider set elsewhere first?"
    exemplars = [
        exemplar
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == "ratchet.runner.latency"
        for point in metric.data.data_points
        for exemplar in getattr(point, "exemplars", ())
    ]
    assert any(
        (e.trace_id, e.span_id) == (span.context.trace_id, span.context.span_id) for e in exemplars
    ), exemplars
