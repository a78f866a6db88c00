"""The supervisor with real child processes: readiness, restart with backoff, stop."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx
import pytest

from fleet.supervisor import ServiceSpec, Supervisor, built_services, missing_services
from tests.conftest import PROJECT_ROOT

HELLO = [sys.executable, "-m", "tests.helpers.hello_service"]


def supervisor(tmp_path: Path, *specs: ServiceSpec) -> Supervisor:
    import os

    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "RATCHET_HELLO_PORT": "0"}
    return Supervisor(list(specs), tmp_path / "logs", env=env, ready_timeout=60)


@pytest.mark.slow
def test_starts_waits_for_readiness_and_stops(tmp_path: Path) -> None:
    fleet = supervisor(tmp_path, ServiceSpec("a", HELLO), ServiceSpec("b", HELLO))
    try:
        urls = fleet.start()
        assert set(urls) == {"a", "b"}
        pids = {httpx.get(f"{url}/hello").json()["pid"] for url in urls.values()}
        assert len(pids) == 2
    finally:
        fleet.stop()
    assert all(child.exited() for child in fleet.children)
    assert '"event": "ready"' in (tmp_path / "logs" / "a.log").read_text()


@pytest.mark.slow
def test_restarts_a_crashed_service(tmp_path: Path) -> None:
    import threading

    fleet = supervisor(tmp_path, ServiceSpec("a", HELLO))
    fleet.start()
    child = fleet.children[0]
    watcher = threading.Thread(target=fleet.run, kwargs={"poll": 0.05}, daemon=True)
    watcher.start()
    try:
        first_pid = httpx.get(f"{child.url}/hello").json()["pid"]
        with pytest.raises(httpx.TransportError):
            httpx.post(f"{child.url}/crash")
        deadline = time.monotonic() + 60
        while child.restarts == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert child.wait_ready(60)
        assert httpx.get(f"{child.url}/hello").json()["pid"] != first_pid
    finally:
        fleet.request_stop()
        watcher.join(30)
    assert child.exited()


def test_a_service_that_never_gets_ready_is_reported(tmp_path: Path) -> None:
    fleet = supervisor(tmp_path, ServiceSpec("dud", [sys.executable, "-c", "print('no')"]))
    with pytest.raises(RuntimeError, match="dud did not become ready"):
        fleet.start()


def test_built_and_missing_services_cover_all_four() -> None:
    built = {spec.name for spec in built_services()}
    assert built | set(missing_services()) == {"runner", "tuner", "architect", "versions"}
    assert built.isdisjoint(missing_services())


def test_a_bound_port_is_pinned_and_the_runner_metrics_and_tuner_urls_wired(
    tmp_path: Path,
) -> None:
    """Port 0 picks a free port once; restarts reuse it, so URLs (fleet record) stay true."""
    specs = [ServiceSpec(name, HELLO) for name in ("runner", "tuner", "architect")]
    fleet = Supervisor(specs, tmp_path / "logs", env={"RATCHET_RUNNER_PORT": "0"})
    runner, tuner, architect = fleet.children
    runner.url = "http://127.0.0.1:40123"
    fleet._bound(runner)
    assert runner.env["RATCHET_RUNNER_PORT"] == "40123"
    wired = "http://127.0.0.1:40123/metrics"
    assert architect.env["RATCHET_ARCHITECT_RUNNER_METRICS_URL"] == wired
    tuner.url = "http://127.0.0.1:40124"
    fleet._bound(tuner)
    assert architect.env["RATCHET_ARCHITECT_TUNER_URL"] == "http://127.0.0.1:40124/mcp"
    explicit = Supervisor(
        specs, tmp_path / "logs", env={"RATCHET_ARCHITECT_RUNNER_METRICS_URL": "http://lb/metrics"}
    )
    explicit.children[0].url = "http://127.0.0.1:40123"
    explicit._bound(explicit.children[0])
    assert explicit.children[2].env["RATCHET_ARCHITECT_RUNNER_METRICS_URL"] == "http://lb/metrics"
