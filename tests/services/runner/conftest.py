"""Fixtures for the Runner's tests: an initialised home, an in-process runtime, and a
message of the served task that every arm of the home's release routes right."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ratchet.bootstrap import initialize
from ratchet.objects import open_object_store
from ratchet.state import open_state_manager
from services.runner.agent.build import RouterFactory
from services.runner.runtime import RunnerRuntime
from services.runner.settings import RunnerSettings
from tests.conftest import PROJECT_ROOT
from tests.services.runner.cases import clear_case


@pytest.fixture
def runner_settings(tmp_path: Path, project_checkout: Path) -> RunnerSettings:
    """A home whose workspace is a clone of this project (its committed HEAD):
    real processes serve the commit-scoped build of the active release."""
    settings = RunnerSettings(home=tmp_path / "home", project_root=project_checkout, port=0)
    initialize(settings)
    return settings


@pytest.fixture
def runtime(runner_settings: RunnerSettings) -> Iterator[RunnerRuntime]:
    runtime = RunnerRuntime(
        runner_settings, open_state_manager(runner_settings), open_object_store(runner_settings)
    )
    yield runtime
    runtime.stop()


@pytest.fixture
def clear(runner_settings: RunnerSettings) -> dict[str, str]:
    """A golden case (text, intent) the home's active release routes right on every arm,
    for tests of real processes (the model trained here is the one they load)."""
    active = open_state_manager(runner_settings).read_active()
    assert active is not None
    factory = RouterFactory(open_object_store(runner_settings), PROJECT_ROOT)
    return clear_case(factory.build(active.document.data))


# OpenTelemetry's global providers can be set once per process: one fixture each, for
# every module of this process.


@pytest.fixture(scope="session")
def spans() -> InMemorySpanExporter:
    """Spans of this process, kept in memory."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return exporter


@pytest.fixture(scope="session")
def metric_reader() -> InMemoryMetricReader:
    """Metrics of this process, read in memory."""
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    return reader
