"""JSON lines telemetry is kept for ``RATCHET_TELEMETRY_RETENTION_DAYS`` days."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from ratchet.config import CommonSettings
from ratchet.objects import FilesystemObjectStore
from ratchet.telemetry import setup_telemetry
from ratchet.telemetry.jsonl import JsonLinesWriter


def day_key(day: str, signal: str = "traces", service: str = "runner") -> str:
    return f"telemetry/{signal}/{service}/{day}/000000.000000-1-000000.jsonl"


def days_left(store: FilesystemObjectStore, prefix: str = "telemetry/traces/runner/") -> set[str]:
    return {key[len(prefix) :].split("/")[0] for key in store.list(prefix)}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_older_days_are_deleted_on_the_first_export_of_each_day(tmp_path: Path) -> None:
    store = FilesystemObjectStore(tmp_path / "objects")
    for day in ("2026-11-27", "2026-11-28", "2026-12-03"):
        store.put(day_key(day), b"{}\n")
    others = [
        day_key("2026-11-01", service="tuner"),  # another service's: its own writer's
        day_key("2026-11-01", signal="metrics"),  # another signal's
        "telemetry/traces/runner/notes/readme.txt",  # not a day folder: not ours to judge
    ]
    for key in others:
        store.put(key, b"x")
    clock = Clock(datetime(2026, 12, 4, 23, 59, tzinfo=UTC))
    writer = JsonLinesWriter(store, "runner", "traces", retention_days=7, clock=clock)

    assert writer.write(['{"span": 1}'])
    # Seven days, today included: 2026-11-28 to 2026-12-04.
    assert days_left(store) == {"2026-11-28", "2026-12-03", "2026-12-04", "notes"}

    store.put(day_key("2026-11-20"), b"{}\n")  # the same day: no second listing
    assert writer.write(['{"span": 2}'])
    assert "2026-11-20" in days_left(store)

    clock.now = datetime(2026, 12, 5, 0, 1, tzinfo=UTC)  # a new day sweeps again
    assert writer.write(['{"span": 3}'])
    assert days_left(store) == {"2026-12-03", "2026-12-04", "2026-12-05", "notes"}
    assert all(store.exists(key) for key in others)


def test_zero_days_keeps_everything(tmp_path: Path) -> None:
    store = FilesystemObjectStore(tmp_path / "objects")
    store.put(day_key("2020-01-01"), b"{}\n")
    writer = JsonLinesWriter(store, "runner", "traces", retention_days=0)
    assert writer.write(['{"span": 1}'])
    assert "2020-01-01" in days_left(store)


class _Unlistable(FilesystemObjectStore):
    def list(self, prefix: str = "") -> list[str]:
        raise OSError("listing refused")


def test_a_failed_sweep_is_logged_and_the_batch_still_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = _Unlistable(tmp_path / "objects")
    writer = JsonLinesWriter(store, "runner", "traces", retention_days=7)
    logger = logging.getLogger("ratchet.telemetry.export")
    logger.addHandler(caplog.handler)  # the module's logger does not propagate
    try:
        assert writer.write(['{"span": 1}'])
    finally:
        logger.removeHandler(caplog.handler)
    assert "retention sweep of telemetry/traces/runner/ failed: listing refused" in caplog.text
    assert list((tmp_path / "objects" / "telemetry" / "traces" / "runner").rglob("*.jsonl"))


def test_the_setting_reaches_the_exporters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATCHET_TELEMETRY_RETENTION_DAYS", "2")
    store = FilesystemObjectStore(tmp_path / "objects")
    store.put(day_key("2000-01-01"), b"{}\n")
    telemetry = setup_telemetry("runner", CommonSettings(), store=store, install_global=False)
    try:
        with telemetry.tracer().start_as_current_span("route"):
            pass
        telemetry.flush()
    finally:
        telemetry.shutdown()
    left = days_left(store)
    assert "2000-01-01" not in left
    assert left, "the span's batch was written"


def test_the_default_is_a_week_and_a_negative_count_is_refused() -> None:
    assert CommonSettings().telemetry_retention_days == 7
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        CommonSettings(telemetry_retention_days=-1)
