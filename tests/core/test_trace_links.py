"""The audit record names the route call's span; a span link joins feedback to it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ratchet.audit import AuditLog, CallRecord, SpanRef
from ratchet.telemetry.attributes import CONVERSATION_ID, TURN
from ratchet.telemetry.links import LINK_KIND, ROUTE_CALL, add_link, route_call_link, span_context

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


def route_call(
    cid: str, turn: int | None, *, trace_id: str = TRACE, outcome: str = "ok"
) -> CallRecord:
    return CallRecord(
        tool="route",
        latency_ms=1.0,
        outcome=outcome,
        conversation_id=cid,
        turn=turn,
        trace_id=trace_id,
        span_id=SPAN,
    )


def test_the_route_call_of_a_turn_is_found_by_conversation_and_turn(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.sqlite3")
    try:
        audit.record(route_call("c-1", None, outcome="rejected"))  # no turn: never found
        audit.record(route_call("c-1", 1))
        audit.record(route_call("c-1", 2, trace_id="a" * 32))
        audit.record(route_call("c-2", 1, trace_id="0" * 32))  # no span was recording
        assert audit.route_call("c-1", 1) == SpanRef(TRACE, SPAN)
        assert audit.route_call("c-1", 3) is None
        assert audit.route_call("c-2", 1) is None
        found = audit.route_calls([("c-1", 2), ("c-1", 1), ("c-1", 2), ("nobody", 1)])
        assert found == {("c-1", 2): SpanRef("a" * 32, SPAN), ("c-1", 1): SpanRef(TRACE, SPAN)}
    finally:
        audit.close()


def test_an_audit_log_made_before_span_ids_gains_the_column(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE calls (id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, "
        "tool TEXT NOT NULL, conversation_id TEXT, turn INTEGER, version TEXT, "
        "state_revision INTEGER, latency_ms REAL NOT NULL, outcome TEXT NOT NULL, "
        "detail TEXT, trace_id TEXT);"
        f"INSERT INTO calls (at, tool, conversation_id, turn, latency_ms, outcome, trace_id) "
        f"VALUES (1, 'route', 'c-old', 1, 2.0, 'ok', '{TRACE}');"
    )
    old.close()
    audit = AuditLog(path)
    try:
        audit.record(route_call("c-new", 1))
        assert audit.route_call("c-old", 1) == SpanRef(TRACE, None)  # its span id is unknown
        assert audit.route_call("c-new", 1) == SpanRef(TRACE, SPAN)
        assert audit.count() == 2
    finally:
        audit.close()
    AuditLog(path).close()  # opening a migrated log again changes nothing


def test_span_contexts_are_made_only_from_well_formed_ids() -> None:
    context = span_context(TRACE, SPAN)
    assert context is not None and context.is_remote
    assert (format(context.trace_id, "032x"), format(context.span_id, "016x")) == (TRACE, SPAN)
    for trace_id, span_id in [("0" * 32, SPAN), (TRACE, "0" * 16), ("xyz", SPAN), (TRACE, "abc")]:
        assert span_context(trace_id, span_id) is None
    assert route_call_link(TRACE, None, conversation_id="c", turn=1) is None


def test_a_span_links_to_the_route_call_it_is_about() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("tools/call feedback") as span:
        add_link(span, route_call_link(TRACE, SPAN, conversation_id="c-1", turn=2))
        add_link(span, None)  # nothing known: nothing added
    provider.shutdown()
    (finished,) = exporter.get_finished_spans()
    (link,) = finished.links
    assert (format(link.context.trace_id, "032x"), format(link.context.span_id, "016x")) == (
        TRACE,
        SPAN,
    )
    assert dict(link.attributes or {}) == {LINK_KIND: ROUTE_CALL, CONVERSATION_ID: "c-1", TURN: 2}
