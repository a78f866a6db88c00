"""One audit record per served call, and the windowed numbers behind the Runner's ``/metrics``.

A table of calls (a SQLite file under the home folder, or the shared Postgres
database), written by every Runner process; :meth:`AuditLog.window` sums a
window of it, which the Runner's ``/metrics`` serves to the Triggerer. The
Runner's code changes per release; this record does not (it is in the static
core), so the Triggerer's SLOs measure every release the same way.
Each record also names the span of its call (trace id and span id), so the
Tuner links its feedback span to the route call's (:meth:`AuditLog.route_call`)
and a release names the traces of the turns it learned from.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from ratchet.db import Schema, Tx
from ratchet.db.store import Store

_CALLS = """
CREATE TABLE IF NOT EXISTS calls (
    id {id},
    at {real} NOT NULL,
    tool TEXT NOT NULL,
    conversation_id TEXT,
    turn INTEGER,
    version TEXT,
    state_revision INTEGER,
    latency_ms {real} NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT,
    trace_id TEXT
);
CREATE INDEX IF NOT EXISTS calls_at ON calls(at)
"""
# 2: each call names its span, and calls are found by their turn.
_SPANS = """
ALTER TABLE calls ADD COLUMN span_id TEXT;
CREATE INDEX IF NOT EXISTS calls_turn ON calls(conversation_id, turn)
"""


def _adopt(tx: Tx) -> int:
    """The version of an audit file from before versioned schemas: 2 once it has spans."""
    columns = {row[1] for row in tx.all("PRAGMA table_info(calls)")}
    if "span_id" in columns:
        tx.execute("CREATE INDEX IF NOT EXISTS calls_turn ON calls(conversation_id, turn)")
        return 2
    return 1 if columns else 0


AUDIT_SCHEMA = Schema("audit", (_CALLS, _SPANS), adopt=_adopt)

AUDIT_FILE = "audit.sqlite3"
"""The audit log's file name under the home's data folder."""


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
    trace_id: str | None = None  # 32 hex digits, as OpenTelemetry writes them
    span_id: str | None = None  # 16 hex digits


@dataclass(frozen=True, slots=True)
class SpanRef:
    """The span of one served call: where a trace store finds it."""

    trace_id: str  # 32 hex digits
    span_id: str | None  # 16 hex digits; None in records made before span ids were kept


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


class AuditLog(Store):
    schema = AUDIT_SCHEMA
    file = AUDIT_FILE

    def record(self, call: CallRecord, at: float | None = None) -> None:
        with self.db.write() as tx:
            tx.execute(
                "INSERT INTO calls (at, tool, conversation_id, turn, version, state_revision, "
                "latency_ms, outcome, detail, trace_id, span_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                    call.span_id,
                ),
            )

    def window(
        self,
        seconds: float,
        *,
        tool: str | None = None,
        now: float | None = None,
        slow_ms: float | None = None,
        version: str | None = None,
    ) -> WindowStats:
        """Counts and latency percentiles of the calls in the last ``seconds``; with
        ``slow_ms``, also how many served calls took longer (what a latency SLO counts);
        with ``version``, only the calls that version answered (a rollout's sides)."""
        since = (time.time() if now is None else now) - seconds
        query = "SELECT latency_ms, outcome FROM calls WHERE at >= ?"
        args: tuple[object, ...] = (since,)
        if tool is not None:
            query += " AND tool = ?"
            args += (tool,)
        if version is not None:
            query += " AND version = ?"
            args += (version,)
        with self.db.read() as tx:
            rows = tx.all(query, args)
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

    def prune(self, before: float, limit: int) -> int:
        """Delete at most ``limit`` calls made before ``before`` (epoch seconds), oldest
        first; how many (:class:`~ratchet.db.retention.RetentionSweeper` calls it)."""
        with self.db.write() as tx:
            cursor = tx.execute(
                "DELETE FROM calls WHERE id IN "
                "(SELECT id FROM calls WHERE at < ? ORDER BY at LIMIT ?)",
                (before, limit),
            )
            return int(cursor.rowcount)

    def count(self) -> int:
        with self.db.read() as tx:
            return int(tx.scalar("SELECT COUNT(*) FROM calls"))

    def route_call(self, conversation_id: str, turn: int) -> SpanRef | None:
        """The span of the route call that answered the turn, if it was recorded."""
        return self.route_calls([(conversation_id, turn)]).get((conversation_id, turn))

    def route_calls(self, turns: Iterable[tuple[str, int]]) -> dict[tuple[str, int], SpanRef]:
        """The spans of the route calls that answered ``turns`` (those recorded)."""
        found: dict[tuple[str, int], SpanRef] = {}
        with self.db.read() as tx:
            for conversation_id, turn in dict.fromkeys(turns):
                row = tx.one(
                    "SELECT trace_id, span_id FROM calls WHERE tool = 'route' AND outcome = 'ok' "
                    "AND conversation_id = ? AND turn = ? AND trace_id IS NOT NULL "
                    "ORDER BY id DESC LIMIT 1",
                    (conversation_id, turn),
                )
                if row is not None and int(row[0], 16):  # all zeros: no span was recording
                    found[(conversation_id, turn)] = SpanRef(str(row[0]), row[1])
        return found
