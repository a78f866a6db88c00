"""Telemetry: JSON lines in the object store, OTLP/HTTP to a real endpoint, propagation."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from opentelemetry import trace

from ratchet.config import CommonSettings
from ratchet.objects import FilesystemObjectStore, ObjectStore
from ratchet.telemetry import (
    CONVERSATION_ID,
    extract_headers,
    extract_mcp_meta,
    inject_headers,
    inject_mcp_meta,
    setup_telemetry,
)


def lines(store: ObjectStore, prefix: str) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for key in store.list(prefix):
        out.extend(json.loads(line) for line in store.get(key).data.decode().splitlines())
    return out


def test_spans_metrics_and_logs_land_as_json_lines(tmp_path: Path) -> None:
    store = FilesystemObjectStore(tmp_path / "objects")
    telemetry = setup_telemetry("runner", CommonSettings(), store=store, install_global=False)
    try:
        with telemetry.tracer().start_as_current_span("route", attributes={CONVERSATION_ID: "c-1"}):
            pass
        telemetry.meter().create_counter("ratchet.calls").add(3, {"outcome": "ok"})
        logger = logging.getLogger("test.telemetry")
        logger.addHandler(telemetry.log_handler)
        logger.warning("something worth keeping")
        logger.removeHandler(telemetry.log_handler)
        telemetry.flush()
    finally:
        telemetry.shutdown()
    spans = lines(store, "telemetry/traces/runner/")
    assert [s["name"] for s in spans] == ["route"]
    assert spans[0]["attributes"] == {CONVERSATION_ID: "c-1"}
    metrics = json.dumps(lines(store, "telemetry/metrics/runner/"))
    assert "ratchet.calls" in metrics
    logs = lines(store, "telemetry/logs/runner/")
    assert any(r["body"] == "something worth keeping" for r in logs)


class _BrokenStore(FilesystemObjectStore):
    def put(self, key: str, data: bytes, **kwargs: object) -> str:
        raise OSError("disk on fire")


def test_a_failing_exporter_never_breaks_the_caller(tmp_path: Path) -> None:
    telemetry = setup_telemetry(
        "runner", CommonSettings(), store=_BrokenStore(tmp_path), install_global=False
    )
    try:
        with telemetry.tracer().start_as_current_span("route"):
            result = "served"
        telemetry.flush()  # the export fails inside; nothing propagates
    finally:
        telemetry.shutdown()
    assert result == "served"


class _Collector(BaseHTTPRequestHandler):
    received: list[str] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_otlp_http_goes_to_the_configured_endpoint(collector: str, tmp_path: Path) -> None:
    _Collector.received.clear()
    settings = CommonSettings(home=tmp_path, otlp_endpoint=collector)
    telemetry = setup_telemetry("tuner", settings, install_global=False)
    try:
        with telemetry.tracer().start_as_current_span("feedback"):
            pass
        telemetry.meter().create_counter("ratchet.feedback").add(1)
        telemetry.flush()
    finally:
        telemetry.shutdown()
    assert "/v1/traces" in _Collector.received and "/v1/metrics" in _Collector.received
    assert not (tmp_path / "objects").exists()  # nothing fell back to the object store


def test_trace_context_round_trips_over_http_headers_and_mcp_meta() -> None:
    provider = setup_telemetry(
        "test",
        CommonSettings(),
        store=FilesystemObjectStore(Path("/tmp") / "ratchet-unused"),
        install_global=False,
    ).tracer_provider
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("client") as span:
        trace_id = span.get_span_context().trace_id
        headers = inject_headers({"Content-Type": "application/json"})
        meta = inject_mcp_meta({"progressToken": 1})
    assert "traceparent" in headers and "traceparent" in meta and meta["progressToken"] == 1
    upper = {"TraceParent": headers["traceparent"]}
    for ctx in (extract_headers(upper), extract_mcp_meta(meta)):
        assert trace.get_current_span(ctx).get_span_context().trace_id == trace_id
    assert not trace.get_current_span(extract_mcp_meta(None)).get_span_context().is_valid
    provider.shutdown()


def test_a_span_line_is_the_sdks_own_json_of_the_span(tmp_path: Path) -> None:
    """The exporter encodes the resource once; each line still equals ``span.to_json``."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import Link, Status, StatusCode

    from ratchet.telemetry.jsonl import JsonLinesSpanExporter, JsonLinesWriter

    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "runner", "n": 3}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("outer", attributes={"a": [1, 2], "b": "x"}) as outer:
        outer.add_event("retried", {"attempt": 2})
        with tracer.start_as_current_span("inner", links=[Link(outer.get_span_context())]) as in_:
            in_.set_status(Status(StatusCode.ERROR, "the model failed"))
            in_.record_exception(ValueError("bad input"))
    other = TracerProvider(resource=Resource({"service.name": "tuner"}))
    other.add_span_processor(SimpleSpanProcessor(memory))
    with other.get_tracer("test").start_as_current_span("feedback"):
        pass
    spans = memory.get_finished_spans()
    assert len(spans) == 3
    exporter = JsonLinesSpanExporter(JsonLinesWriter(FilesystemObjectStore(tmp_path), "t", "t"))
    for span in [*spans, spans[0]]:  # a resource again after another one
        assert exporter.line(span) == span.to_json(indent=None)
