"""Durable jobs: intake, claiming, stage progress, final status.

In the home's SQLite file, or in the Postgres database several Architects share
(``RATCHET_DATABASE_URL``). Every intake is a row before its 202 is sent, so a job
id always leads to a final status; a repeated idempotency key returns the first
job. Claiming is :func:`.queue.claim`, so two Architect processes never run the
same job. A worker that dies leaves its job ``running``: :meth:`JobStore.recover`
queues it again (every running job, or only those whose lease ran out), or fails
it for good once it has been started ``max_attempts`` times, so a job that kills
its runner cannot loop forever.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from ratchet.db import Database, Row, Tx
from ratchet.db.store import Store
from ratchet.errors import NotFoundError
from ratchet.state.document import utcnow

from . import candidates, queue
from .model import (
    CANDIDATE_STAGES,
    LOG_CHARS,
    STAGES,
    CandidateRecord,
    Job,
    JobKind,
    JobStatus,
    Stage,
    StageStatus,
)
from .schema import JOBS_FILE, JOBS_SCHEMA

INTAKE_LOCK = "ratchet:jobs:intake"  # one intake at a time: the sequence and the key check
_JOB_COLUMNS = (
    "id, kind, status, text, patch IS NOT NULL, idempotency_key, evidence, created_at, "
    "started_at, finished_at, attempts, version, reason, failed_stage, coder, warnings"
)


class JobStore(Store):
    schema = JOBS_SCHEMA
    file = JOBS_FILE

    def __init__(self, where: Database | Path) -> None:
        super().__init__(where)
        self.worker = queue.worker_identity()  # whose lease this process's claims hold

    # -- intake -------------------------------------------------------------------

    def create(
        self,
        kind: JobKind,
        text: str,
        *,
        patch: str | None = None,
        idempotency_key: str | None = None,
        evidence: dict[str, Any] | None = None,
    ) -> tuple[Job, bool]:
        """The new job, or the earlier one with this idempotency key; (job, created)."""
        job_id = uuid.uuid4().hex[:16]
        with self.db.write() as tx:
            tx.lock(INTAKE_LOCK)
            if idempotency_key is not None:
                found = tx.scalar(
                    "SELECT id FROM jobs WHERE idempotency_key = ?", (idempotency_key,)
                )
                if found is not None:
                    return self._get(tx, str(found)), False
            seq = tx.scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs")
            tx.execute(
                "INSERT INTO jobs (id, kind, status, text, patch, idempotency_key, evidence,"
                " created_at, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job_id,
                    kind.value,
                    JobStatus.QUEUED.value,
                    text,
                    patch,
                    idempotency_key,
                    None if evidence is None else json.dumps(evidence),
                    utcnow(),
                    seq,
                ),
            )
            tx.executemany(
                "INSERT INTO stages (job_id, name, position, status) VALUES (?, ?, ?, ?)",
                [(job_id, name, i, StageStatus.PENDING.value) for i, name in enumerate(STAGES)],
            )
            return self._get(tx, job_id), True

    # -- reading ------------------------------------------------------------------

    def get(self, job_id: str) -> Job:
        with self.db.read() as tx:
            return self._get(tx, job_id)

    def jobs(self, *, limit: int = 50, status: JobStatus | None = None) -> list[Job]:
        """Newest first."""
        where, args = ("WHERE status = ?", [status.value]) if status else ("", [])
        with self.db.read() as tx:
            rows = tx.all(
                f"SELECT {_JOB_COLUMNS} FROM jobs {where} ORDER BY seq DESC LIMIT ?", (*args, limit)
            )
            return [_job(tx, row) for row in rows]

    def patch_of(self, job_id: str) -> str | None:
        with self.db.read() as tx:
            row = tx.one("SELECT patch FROM jobs WHERE id = ?", (job_id,))
        if row is None:
            raise NotFoundError(f"no job {job_id!r}")
        patch: str | None = row[0]
        return patch

    def _get(self, tx: Tx, job_id: str) -> Job:
        row = tx.one(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        if row is None:
            raise NotFoundError(f"no job {job_id!r}")
        return _job(tx, row)

    # -- running ------------------------------------------------------------------

    def claim_next(self, worker: str | None = None) -> Job | None:
        """Mark the oldest queued job running for ``worker`` (this store's own identity
        by default), one more attempt, and return it."""
        with self.db.write() as tx:
            job_id = queue.claim(tx, worker or self.worker)
            return None if job_id is None else self._get(tx, job_id)

    def heartbeat(self, job_id: str, worker: str | None = None) -> bool:
        """Renew the worker's lease on its running job; False when the job is no longer
        its own (the lease ran out and another Architect queued it again, or it ended)."""
        with self.db.write() as tx:
            return queue.beat(tx, job_id, worker or self.worker)

    def stage_started(self, job_id: str, name: str, *, candidate: int | None = None) -> None:
        """Stage ``name`` of the job, or of its candidate ``candidate`` (1-based), began."""
        with self.db.write() as tx:
            if candidate is not None:
                position = STAGES.index(name) if name in STAGES else len(STAGES)
                candidates.stage_started(tx, job_id, candidate, name, position)
                return
            tx.execute(
                "UPDATE stages SET status = ?, started_at = ? WHERE job_id = ? AND name = ?",
                (StageStatus.RUNNING.value, utcnow(), job_id, name),
            )

    def stage_finished(
        self,
        job_id: str,
        name: str,
        status: StageStatus,
        seconds: float,
        log: str,
        *,
        candidate: int | None = None,
    ) -> None:
        with self.db.write() as tx:
            if candidate is not None:
                candidates.stage_finished(tx, job_id, candidate, name, status, seconds, log)
                return
            tx.execute(
                "UPDATE stages SET status = ?, finished_at = ?, seconds = ?, log = ? "
                "WHERE job_id = ? AND name = ?",
                (status.value, utcnow(), round(seconds, 3), log[-LOG_CHARS:], job_id, name),
            )

    def set_coder(self, job_id: str, coder: str) -> None:
        with self.db.write() as tx:
            tx.execute("UPDATE jobs SET coder = ? WHERE id = ?", (coder, job_id))

    def add_warning(self, job_id: str, warning: str) -> None:
        """Record on the job something it ran with that it should not have."""
        with self.db.write() as tx:
            found = tx.scalar("SELECT warnings FROM jobs WHERE id = ?", (job_id,))
            if found is None:
                raise NotFoundError(f"no job {job_id!r}")
            warnings = [*json.loads(found), warning]
            tx.execute("UPDATE jobs SET warnings = ? WHERE id = ?", (json.dumps(warnings), job_id))

    def save_candidate(self, job_id: str, record: CandidateRecord) -> None:
        """Insert or update candidate ``record.index`` of the job (not its stages)."""
        with self.db.write() as tx:
            candidates.save(tx, job_id, record)

    def finish(
        self,
        job_id: str,
        status: JobStatus,
        reason: str,
        *,
        version: str | None = None,
        failed_stage: str | None = None,
    ) -> Job:
        assert status.final
        with self.db.write() as tx:
            tx.execute(
                "UPDATE stages SET status = ? WHERE job_id = ? AND status = ?",
                (StageStatus.SKIPPED.value, job_id, StageStatus.PENDING.value),
            )
            candidates.settle(tx, job_id, status is JobStatus.FAILED, reason)
            tx.execute(
                "UPDATE jobs SET status = ?, reason = ?, version = ?, failed_stage = ?, "
                "finished_at = ? WHERE id = ?",
                (status.value, reason, version, failed_stage, utcnow(), job_id),
            )
            return self._get(tx, job_id)

    def stale(self, lease_s: float | None = None) -> list[Job]:
        """Running jobs whose worker stopped beating for longer than ``lease_s`` seconds
        (every running job when None: a sole Architect starting again)."""
        with self.db.read() as tx:
            return [self._get(tx, job_id) for job_id in queue.stale(tx, lease_s)]

    def recover(self, max_attempts: int, *, lease_s: float | None = None) -> list[Job]:
        """Jobs a dead worker left running, queued again or failed past ``max_attempts``:
        every running job (``lease_s`` None: one Architect per home, at its start), or
        only those whose lease ran out (several Architects: never a live worker's job)."""
        recovered = []
        with self.db.write() as tx:
            for job_id in queue.stale(tx, lease_s):
                attempts = int(tx.scalar("SELECT attempts FROM jobs WHERE id = ?", (job_id,)))
                if attempts >= max_attempts:
                    self.finish(
                        job_id,
                        JobStatus.FAILED,
                        f"interrupted {attempts} times (the Architect stopped mid-job); "
                        "given up, nothing was released by it",
                    )
                else:
                    queue.requeue(tx, job_id)
                recovered.append(self._get(tx, job_id))
        return recovered


def _job(tx: Tx, row: Row) -> Job:
    stages = tx.all(
        "SELECT name, status, started_at, finished_at, seconds, log FROM stages "
        "WHERE job_id = ? ORDER BY position",
        (row[0],),
    )
    records = candidates.load(tx, row[0])
    return Job(
        id=row[0],
        kind=JobKind(row[1]),
        status=JobStatus(row[2]),
        text=row[3],
        has_patch=bool(row[4]),
        idempotency_key=row[5],
        evidence=None if row[6] is None else json.loads(row[6]),
        created_at=row[7],
        started_at=row[8],
        finished_at=row[9],
        attempts=row[10],
        version=row[11],
        reason=row[12],
        failed_stage=row[13],
        coder=row[14],
        warnings=json.loads(row[15]),
        candidates=records,
        stages=[
            candidates.aggregate(stage, records) if stage.name in CANDIDATE_STAGES else stage
            for stage in (
                Stage(
                    name=s[0],
                    status=StageStatus(s[1]),
                    started_at=s[2],
                    finished_at=s[3],
                    seconds=s[4],
                    log=s[5],
                )
                for s in stages
            )
        ],
    )
