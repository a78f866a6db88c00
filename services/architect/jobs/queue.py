"""The job queue's statements: claiming, heartbeats, leases that ran out.

Several Architects may share one jobs database (``RATCHET_DATABASE_URL``). A
claim takes the oldest queued job with ``FOR UPDATE SKIP LOCKED`` on Postgres
(a second claimer passes over the row the first holds; on SQLite the write
transaction holds the file, which serialises claimers), and marks it running
under the claimer's identity with a heartbeat. The running worker beats every
few seconds (:mod:`services.architect.heartbeat`); a running job whose last beat
is older than the lease belongs to a worker that stopped, and any Architect may
queue it again. Beats are stamped with the database's clock, so machines whose
clocks differ still agree on whose lease ran out.
"""

from __future__ import annotations

import os
import socket
import uuid

from ratchet.db import Tx
from ratchet.state.document import utcnow

from . import candidates
from .model import JobStatus, StageStatus


def worker_identity() -> str:
    """A name for this process's worker, unique across machines and restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def claim(tx: Tx, worker: str) -> str | None:
    """Mark the oldest queued job running for ``worker`` (one more attempt, stages and
    candidates afresh); its id, or None when none is queued."""
    row = tx.one(
        f"SELECT id FROM jobs WHERE status = ? ORDER BY seq LIMIT 1{tx.dialect.skip_locked}",
        (JobStatus.QUEUED.value,),
    )
    if row is None:
        return None
    job_id = str(row[0])
    tx.execute(
        "UPDATE jobs SET status = ?, started_at = ?, attempts = attempts + 1, warnings = '[]', "
        f"worker = ?, heartbeat_at = {tx.dialect.now} WHERE id = ?",
        (JobStatus.RUNNING.value, utcnow(), worker, job_id),
    )
    tx.execute(
        "UPDATE stages SET status = ?, started_at = NULL, finished_at = NULL, "
        "seconds = NULL, log = '' WHERE job_id = ?",
        (StageStatus.PENDING.value, job_id),
    )
    candidates.forget(tx, job_id)
    return job_id


def beat(tx: Tx, job_id: str, worker: str) -> bool:
    """Renew ``worker``'s lease on its running job; False once it is no longer its own
    (its lease ran out and the job was queued again, or it ended)."""
    renewed = tx.execute(
        f"UPDATE jobs SET heartbeat_at = {tx.dialect.now} "
        "WHERE id = ? AND worker = ? AND status = ?",
        (job_id, worker, JobStatus.RUNNING.value),
    ).rowcount
    return renewed == 1


def stale(tx: Tx, lease_s: float | None) -> list[str]:
    """Running jobs whose worker stopped beating for longer than ``lease_s`` (every
    running job when None), oldest first, held by this transaction on Postgres."""
    sql = "SELECT id FROM jobs WHERE status = ?"
    args: tuple[object, ...] = (JobStatus.RUNNING.value,)
    if lease_s is not None:
        # A job claimed before leases existed has no beat: its worker is long gone.
        sql += f" AND COALESCE(heartbeat_at, 0) < {tx.dialect.now} - ?"
        args += (lease_s,)
    return [str(row[0]) for row in tx.all(f"{sql} ORDER BY seq{tx.dialect.skip_locked}", args)]


def requeue(tx: Tx, job_id: str) -> None:
    tx.execute(
        "UPDATE jobs SET status = ?, worker = NULL, heartbeat_at = NULL "
        "WHERE id = ? AND status = ?",
        (JobStatus.QUEUED.value, job_id, JobStatus.RUNNING.value),
    )
