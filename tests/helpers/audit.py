"""Writing the Runner's audit record of a route call, as the Runner does after answering."""

from __future__ import annotations

from pathlib import Path

from ratchet.audit import AUDIT_FILE, AuditLog, CallRecord
from ratchet.config import CommonSettings


def audit_route_call(
    where: CommonSettings | Path, cid: str, turn: int, trace_id: str, span_id: str
) -> None:
    """The audit record of the route call that answered ``turn`` of conversation ``cid``,
    in a home's audit log (``where``: its settings) or in a data folder's file."""
    audit = (
        AuditLog.open(where) if isinstance(where, CommonSettings) else AuditLog(where / AUDIT_FILE)
    )
    try:
        audit.record(
            CallRecord(
                tool="route",
                latency_ms=1.0,
                outcome="ok",
                conversation_id=cid,
                turn=turn,
                trace_id=trace_id,
                span_id=span_id,
            )
        )
    finally:
        audit.close()
