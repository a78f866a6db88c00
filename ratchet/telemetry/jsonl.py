"""Exporters writing OpenTelemetry data as JSON lines into the object store.

The default when no OTLP endpoint is configured. Object stores cannot append,
so each exported batch becomes one object:
``telemetry/{signal}/{service}/{YYYY-MM-DD}/{HHMMSS.micro}-{pid}-{seq}.jsonl``.
An export that fails is reported as a failure to the SDK and logged; it never
raises into the code that produced the data.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

if TYPE_CHECKING:
    from opentelemetry.sdk._logs import ReadableLogRecord
    from opentelemetry.sdk.trace import ReadableSpan

    from ratchet.objects.base import ObjectStore

# Our own failures go to stderr only: routing them through the OTel logging
# handler would feed the exporter that just failed.
log = logging.getLogger("ratchet.telemetry.export")
log.propagate = False
log.addHandler(logging.StreamHandler())

TELEMETRY_PREFIX = "telemetry"


class JsonLinesWriter:
    """Names and writes batch objects for one service and signal."""

    def __init__(self, store: ObjectStore, service: str, signal: str) -> None:
        self.store = store
        self.service = service
        self.signal = signal
        self._seq = itertools.count()

    def key(self) -> str:
        now = datetime.now(UTC)
        return (
            f"{TELEMETRY_PREFIX}/{self.signal}/{self.service}/{now:%Y-%m-%d}/"
            f"{now:%H%M%S.%f}-{os.getpid()}-{next(self._seq):06d}.jsonl"
        )

    def write(self, lines: Iterable[str]) -> bool:
        """Store one batch of JSON lines as one object; False (logged) on failure."""
        batch = list(lines)
        if not batch:
            return True
        try:
            self.store.put(self.key(), ("\n".join(batch) + "\n").encode())
        except Exception as exc:  # a telemetry failure never breaks a request
            log.warning("telemetry export of %d %s failed: %s", len(batch), self.signal, exc)
            return False
        return True


class JsonLinesSpanExporter(SpanExporter):
    def __init__(self, writer: JsonLinesWriter) -> None:
        self.writer = writer

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        ok = self.writer.write(span.to_json(indent=None) for span in spans)
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        pass


class JsonLinesLogExporter(LogRecordExporter):
    def __init__(self, writer: JsonLinesWriter) -> None:
        self.writer = writer

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        ok = self.writer.write(record.to_json(indent=None) for record in batch)
        return LogRecordExportResult.SUCCESS if ok else LogRecordExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True

    def shutdown(self) -> None:
        pass


class JsonLinesMetricExporter(MetricExporter):
    def __init__(self, writer: JsonLinesWriter) -> None:
        super().__init__()
        self.writer = writer

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        ok = self.writer.write([metrics_data.to_json(indent=None)])
        return MetricExportResult.SUCCESS if ok else MetricExportResult.FAILURE

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass
