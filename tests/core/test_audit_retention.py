"""The audit log keeps ``RATCHET_AUDIT_RETENTION_DAYS`` days of calls, pruned in batches."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from ratchet.audit import AUDIT_FILE, AUDIT_SCHEMA, AuditLog, CallRecord
from ratchet.config import CommonSettings
from ratchet.db import open_database
from ratchet.db.retention import DAY_S, RetentionSweeper

NOW = 1_800_000_000.0


def audit_on(tmp_path: Path, url: str | None) -> AuditLog:
    return AuditLog(open_database(AUDIT_SCHEMA, tmp_path / AUDIT_FILE, url))


def call(cid: str) -> CallRecord:
    return CallRecord(tool="route", latency_ms=1.0, outcome="ok", conversation_id=cid, turn=1)


def conversations(audit: AuditLog) -> list[str]:
    with audit.db.read() as tx:
        rows = tx.all("SELECT conversation_id FROM calls ORDER BY at")
    return [str(row[0]) for row in rows]


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_prune_deletes_the_oldest_calls_before_the_cutoff_at_most_limit_at_a_time(
    tmp_path: Path, database_url: str | None
) -> None:
    audit = audit_on(tmp_path, database_url)
    for age_days, cid in ((40, "a"), (35, "b"), (31, "c"), (29, "kept"), (0, "new")):
        audit.record(call(cid), at=NOW - age_days * DAY_S)
    cutoff = NOW - 30 * DAY_S
    assert audit.prune(cutoff, 2) == 2
    assert conversations(audit) == ["c", "kept", "new"]  # the oldest went first
    assert audit.prune(cutoff, 2) == 1
    assert audit.prune(cutoff, 2) == 0
    assert conversations(audit) == ["kept", "new"]
    audit.close()


def test_a_sweep_deletes_every_expired_call_in_batches(tmp_path: Path) -> None:
    audit = audit_on(tmp_path, None)
    for index in range(23):
        audit.record(call(f"old{index}"), at=NOW - 31 * DAY_S)
    audit.record(call("recent"), at=NOW - 29 * DAY_S)
    batches: list[int] = []

    def prune(before: float, limit: int) -> int:
        batches.append(audit.prune(before, limit))
        return batches[-1]

    sweeper = RetentionSweeper("calls", prune, 30, batch_rows=5, pause_s=0, clock=lambda: NOW)
    assert sweeper.sweep() == 23
    assert batches == [5, 5, 5, 5, 3]  # one short write transaction each
    assert conversations(audit) == ["recent"]
    audit.close()


def test_zero_days_keeps_everything_and_starts_no_thread() -> None:
    def prune(before: float, limit: int) -> int:
        raise AssertionError("nothing is pruned at 0 days")

    sweeper = RetentionSweeper("calls", prune, 0)
    sweeper.start()
    assert sweeper._thread is None
    sweeper.stop()


def test_a_failed_sweep_is_logged_and_the_next_one_runs(caplog: pytest.LogCaptureFixture) -> None:
    attempts: list[float] = []

    def prune(before: float, limit: int) -> int:
        attempts.append(before)
        if len(attempts) == 1:
            raise RuntimeError("database is locked")
        return 0

    sweeper = RetentionSweeper("calls", prune, 30, interval_s=0.01, clock=lambda: NOW)
    with caplog.at_level(logging.WARNING, logger="ratchet.db.retention"):
        sweeper.start()
        wait_for(lambda: sweeper.sweeps >= 2)
        sweeper.stop()
    assert "retention sweep of calls failed: database is locked" in caplog.text
    assert attempts[:2] == [NOW - 30 * DAY_S] * 2


def test_stop_ends_a_sweep_after_its_current_batch() -> None:
    """A sweep of a huge backlog does not hold up a stopping Runner."""
    started = threading.Event()

    def prune(before: float, limit: int) -> int:
        started.set()
        return limit  # always a full batch: the backlog never ends

    sweeper = RetentionSweeper("calls", prune, 30, pause_s=0.01)
    sweeper.start()
    assert started.wait(10)
    sweeper.stop()
    assert sweeper._thread is None


def test_the_setting_defaults_to_30_days_and_refuses_a_negative_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert CommonSettings().audit_retention_days == 30
    monkeypatch.setenv("RATCHET_AUDIT_RETENTION_DAYS", "0")
    assert CommonSettings().audit_retention_days == 0
    monkeypatch.setenv("RATCHET_AUDIT_RETENTION_DAYS", "-1")
    with pytest.raises(ValidationError, match="audit_retention_days"):
        CommonSettings()
