"""One telemetry set-up for every process: traces, metrics and logs.

OTLP/HTTP when ``RATCHET_OTLP_ENDPOINT`` is set, otherwise JSON lines into the
object store. Exports run on background threads with batching, so a slow or
failing backend costs a request nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from opentelemetry import metrics, trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

import ratchet
from ratchet.config import CommonSettings
from ratchet.objects.base import ObjectStore
from ratchet.telemetry.jsonl import (
    JsonLinesLogExporter,
    JsonLinesMetricExporter,
    JsonLinesSpanExporter,
    JsonLinesWriter,
)


@dataclass
class Telemetry:
    service: str
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    logger_provider: LoggerProvider
    log_handler: LoggingHandler

    def tracer(self, name: str = "ratchet") -> trace.Tracer:
        return self.tracer_provider.get_tracer(name, ratchet.__version__)

    def meter(self, name: str = "ratchet") -> metrics.Meter:
        return self.meter_provider.get_meter(name, ratchet.__version__)

    def flush(self) -> None:
        self.tracer_provider.force_flush()
        self.meter_provider.force_flush()
        self.logger_provider.force_flush()

    def shutdown(self) -> None:
        logging.getLogger().removeHandler(self.log_handler)
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()
        self.logger_provider.shutdown()


def _exporters(
    service: str, settings: CommonSettings, store: ObjectStore | None
) -> tuple[SpanExporter, MetricExporter, LogRecordExporter]:
    if settings.otlp_endpoint:
        # Imported here: the OTLP exporters pull in protobuf, which the
        # default set-up never needs.
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        base = settings.otlp_endpoint.rstrip("/")
        return (
            OTLPSpanExporter(endpoint=f"{base}/v1/traces"),
            OTLPMetricExporter(endpoint=f"{base}/v1/metrics"),
            OTLPLogExporter(endpoint=f"{base}/v1/logs"),
        )
    if store is None:
        from ratchet.objects import open_object_store

        store = open_object_store(settings)
    days = settings.telemetry_retention_days
    return (
        JsonLinesSpanExporter(JsonLinesWriter(store, service, "traces", days)),
        JsonLinesMetricExporter(JsonLinesWriter(store, service, "metrics", days)),
        JsonLinesLogExporter(JsonLinesWriter(store, service, "logs", days)),
    )


def setup_telemetry(
    service: str,
    settings: CommonSettings,
    *,
    store: ObjectStore | None = None,
    install_global: bool = True,
    metric_interval_ms: int = 30_000,
) -> Telemetry:
    """Build the three providers for ``service``; optionally make them the globals."""
    resource = Resource.create(
        {"service.name": f"ratchet-{service}", "service.version": ratchet.__version__}
    )
    span_exporter, metric_exporter, log_exporter = _exporters(service, settings, store)

    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
    reader = PeriodicExportingMetricReader(
        metric_exporter, export_interval_millis=metric_interval_ms
    )
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(log_exporter))
    handler = LoggingHandler(level=logging.INFO, logger_provider=logger_provider)

    if install_global:
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(meter_provider)
        set_logger_provider(logger_provider)
        logging.getLogger().addHandler(handler)
    return Telemetry(service, tracer_provider, meter_provider, logger_provider, handler)
