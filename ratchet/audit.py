"""One audit record per served call, and the windowed numbers behind the Runner's ``/metrics``.

A SQLite table of calls under the home folder, written by every Runner
process; :meth:`AuditLog.window` sums a window of it, which the Runner's
``/metrics`` serves to the Triggerer. The Runner's code changes per release;
this record does not (it is in the static core), so the Triggerer's SLOs
measure every release the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ratchet.sqlite import SqliteStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    tool TEXT NOT NULL,
    conversation_id TEXT,
    turn INTEGER,
    version TEXT,
    state_revision INTEGER,
    latency_ms REAL NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT,
    trace_id TEXT
);
CREATE INDEX IF NOT EXISTS calls_at ON calls(at);
"""


@dataclass(frozen=True, slots=True)
class CallRecord:
    tool: str
    latency_ms: float
    outcome: str  # ok | error | rejected (bad input)
    conversation_id: str | None = None
    turn: int | None = None
    version: str | None = None
    state_revision: int | None = None
    detail: str | None = None
    trace_id: str | None = None


@dataclass(frozen=True, slots=True)
class WindowStats:
    seconds: float
    calls: int
    errors: int
    rejected: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    slow: int | None = None  # served calls slower than the asked threshold, if one was asked

    @property
    def error_rate(self) -> float | None:
        return None if self.calls == 0 else self.errors / self.calls


def _percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


class AuditLog(SqliteStore):
    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)

    def record(self, call: CallRecord, at: float | None = None) -> None:
        with self._db_lock:
            self._db.execute(
                "INSERT INTO calls (at, tool, conversation_id, turn, version, state_revision, "
                "latency_ms, outcome, detail, trace_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    time.time() if at is None else at,
                    call.tool,
                    call.conversation_id,
                    call.turn,
                    call.version,
                    call.state_revision,
                    call.latency_ms,
                    call.outcome,
                    call.detail,
                    call.trace_id,
                ),
            )

    def window(
        self,
        seconds: float,
        *,
        tool: str | None = None,
        now: float | None = None,
        slow_ms: float | None = None,
    ) -> WindowStats:
        """Counts and latency percentiles of the calls in the last ``seconds``; with
        ``slow_ms``, also how many served calls took longer (what a latency SLO counts)."""
        since = (time.time() if now is None else now) - seconds
        query = "SELECT latency_ms, outcome FROM calls WHERE at >= ?"
        args: tuple[object, ...] = (since,)
        if tool is not None:
            query += " AND tool = ?"
            args += (tool,)
        with self._db_lock:
            rows = self._db.execute(query, args).fetchall()
        latencies = sorted(float(r[0]) for r in rows if r[1] != "rejected")
        return WindowStats(
            seconds=seconds,
            calls=len(rows),
            errors=sum(1 for r in rows if r[1] == "error"),
            rejected=sum(1 for r in rows if r[1] == "rejected"),
            p50_ms=_percentile(latencies, 0.50),
            p95_ms=_percentile(latencies, 0.95),
            p99_ms=_percentile(latencies, 0.99),
            slow=None if slow_ms is None else sum(1 for v in latencies if v > slow_ms),
        )

    def count(self) -> int:
        with self._db_lock:
            return int(self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0])
