"""A running Runner keeps its audit log to ``RATCHET_AUDIT_RETENTION_DAYS``."""

from __future__ import annotations

import time

from ratchet.audit import CallRecord
from ratchet.db.retention import DAY_S
from services.runner.runtime import RunnerRuntime


def test_a_started_runner_deletes_calls_older_than_the_retention(runtime: RunnerRuntime) -> None:
    now = time.time()
    for age_days, cid in ((45, "old"), (31, "older-than-30"), (29, "kept"), (0, "new")):
        runtime.audit.record(
            CallRecord(tool="route", latency_ms=1.0, outcome="ok", conversation_id=cid, turn=1),
            at=now - age_days * DAY_S,
        )
    assert runtime.settings.audit_retention_days == 30  # the default
    runtime.start()
    deadline = time.monotonic() + 30
    while runtime.audit_retention.sweeps < 1:
        assert time.monotonic() < deadline, "no retention sweep ran"
        time.sleep(0.01)
    with runtime.audit.db.read() as tx:
        left = [row[0] for row in tx.all("SELECT conversation_id FROM calls ORDER BY at")]
    assert left == ["kept", "new"]
    assert runtime.audit_retention.deleted == 2
