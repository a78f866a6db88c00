"""Durable jobs in SQLite: intake, claiming, stage progress, final status.

Every intake is a row before its 202 is sent, so a job id always leads to a
final status; a repeated idempotency key returns the first job. Claiming is
one conditional UPDATE, so two Architect processes never run the same job.
A process that dies leaves its job ``running``: :meth:`JobStore.recover`
queues it again, or fails it for good once it has been started
``max_attempts`` times, so a job that kills its runner cannot loop forever.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from ratchet.errors import NotFoundError
from ratchet.sqlite import SqliteStore
from ratchet.state.document import utcnow

from . import candidates
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

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    text TEXT NOT NULL,
    patch TEXT,
    idempotency_key TEXT UNIQUE,
    evidence TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    version TEXT,
    reason TEXT NOT NULL DEFAULT '',
    failed_stage TEXT,
    seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, seq);
CREATE TABLE IF NOT EXISTS stages (
    job_id TEXT NOT NULL REFERENCES jobs(id),
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    status TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    seconds REAL,
    log TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (job_id, name)
);
"""
# Schema changes since the first release, by ``PRAGMA user_version``: a job
# database written by an older Architect is brought up to date when opened.
_MIGRATIONS = (
    # 1: the coder of a job, and per-candidate records (cascade, best-of-N)
    "ALTER TABLE jobs ADD COLUMN coder TEXT;" + candidates.SCHEMA,
    # 2: a job's warnings (a human patch run without a sandbox), a JSON list
    "ALTER TABLE jobs ADD COLUMN warnings TEXT NOT NULL DEFAULT '[]'",
)
_JOB_COLUMNS = (
    "id, kind, status, text, patch IS NOT NULL, idempotency_key, evidence, created_at, "
    "started_at, finished_at, attempts, version, reason, failed_stage, coder, warnings"
)


class JobStore(SqliteStore):
    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)
        with self._db_lock:
            for number, script in enumerate(_MIGRATIONS, start=1):
                self._migrate(number, script)

    def _migrate(self, number: int, script: str) -> None:
        """Step the schema to ``number`` unless done: one transaction, so a crash (or a
        second process opening the file at the same time) sees the old schema or the new."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if self._db.execute("PRAGMA user_version").fetchone()[0] < number:
                for statement in filter(str.strip, script.split(";")):
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {number}")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

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
        with self._db_lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if idempotency_key is not None:
                    row = self._db.execute(
                        "SELECT id FROM jobs WHERE idempotency_key = ?", (idempotency_key,)
                    ).fetchone()
                    if row is not None:
                        self._db.execute("COMMIT")
                        return self.get(row[0]), False
                seq = self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs").fetchone()[0]
                self._db.execute(
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
                self._db.executemany(
                    "INSERT INTO stages (job_id, name, position, status) VALUES (?, ?, ?, ?)",
                    [(job_id, name, i, StageStatus.PENDING.value) for i, name in enumerate(STAGES)],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return self.get(job_id), True

    # -- reading ------------------------------------------------------------------

    def get(self, job_id: str) -> Job:
        with self._db_lock:
            row = self._db.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no job {job_id!r}")
            return self._job(row)

    def jobs(self, *, limit: int = 50, status: JobStatus | None = None) -> list[Job]:
        """Newest first."""
        with self._db_lock:
            where, args = ("WHERE status = ?", [status.value]) if status else ("", [])
            rows = self._db.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs {where} ORDER BY seq DESC LIMIT ?", (*args, limit)
            ).fetchall()
            return [self._job(row) for row in rows]

    def patch_of(self, job_id: str) -> str | None:
        with self._db_lock:
            row = self._db.execute("SELECT patch FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"no job {job_id!r}")
            patch: str | None = row[0]
            return patch

    def _job(self, row: tuple[Any, ...]) -> Job:
        stages = self._db.execute(
            "SELECT name, status, started_at, finished_at, seconds, log FROM stages "
            "WHERE job_id = ? ORDER BY position",
            (row[0],),
        ).fetchall()
        records = candidates.load(self._db, row[0])
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
                (candidates.aggregate(stage, records) if stage.name in CANDIDATE_STAGES else stage)
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

    # -- running ------------------------------------------------------------------

    def claim_next(self) -> Job | None:
        """Mark the oldest queued job running (one more attempt) and return it."""
        with self._db_lock:
            while True:
                row = self._db.execute(
                    "SELECT id FROM jobs WHERE status = ? ORDER BY seq LIMIT 1",
                    (JobStatus.QUEUED.value,),
                ).fetchone()
                if row is None:
                    return None
                claimed = self._db.execute(
                    "UPDATE jobs SET status = ?, started_at = ?, attempts = attempts + 1, "
                    "warnings = '[]' WHERE id = ? AND status = ?",
                    (JobStatus.RUNNING.value, utcnow(), row[0], JobStatus.QUEUED.value),
                ).rowcount
                if claimed:
                    self._db.execute(
                        "UPDATE stages SET status = ?, started_at = NULL, finished_at = NULL, "
                        "seconds = NULL, log = '' WHERE job_id = ?",
                        (StageStatus.PENDING.value, row[0]),
                    )
                    candidates.forget(self._db, row[0])
                    return self.get(row[0])

    def stage_started(self, job_id: str, name: str, *, candidate: int | None = None) -> None:
        """Stage ``name`` of the job, or of its candidate ``candidate`` (1-based), began."""
        with self._db_lock:
            if candidate is not None:
                position = STAGES.index(name) if name in STAGES else len(STAGES)
                candidates.stage_started(self._db, job_id, candidate, name, position)
                return
            self._db.execute(
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
        with self._db_lock:
            if candidate is not None:
                candidates.stage_finished(self._db, job_id, candidate, name, status, seconds, log)
                return
            self._db.execute(
                "UPDATE stages SET status = ?, finished_at = ?, seconds = ?, log = ? "
                "WHERE job_id = ? AND name = ?",
                (status.value, utcnow(), round(seconds, 3), log[-LOG_CHARS:], job_id, name),
            )

    def set_coder(self, job_id: str, coder: str) -> None:
        with self._db_lock:
            self._db.execute("UPDATE jobs SET coder = ? WHERE id = ?", (coder, job_id))

    def add_warning(self, job_id: str, warning: str) -> None:
        """Record on the job something it ran with that it should not have."""
        with self._db_lock:
            row = self._db.execute("SELECT warnings FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"no job {job_id!r}")
            warnings = [*json.loads(row[0]), warning]
            self._db.execute(
                "UPDATE jobs SET warnings = ? WHERE id = ?", (json.dumps(warnings), job_id)
            )

    def save_candidate(self, job_id: str, record: CandidateRecord) -> None:
        """Insert or update candidate ``record.index`` of the job (not its stages)."""
        with self._db_lock:
            candidates.save(self._db, job_id, record)

    def finish(
        self,
        job_id: str,
        status: JobStatus,
        reason: str,
        *,
        version: str | None = None,
        failed_stage: str | None = None,
    ) -> Job:
        with self._db_lock:
            assert status.final
            self._db.execute(
                "UPDATE stages SET status = ? WHERE job_id = ? AND status = ?",
                (StageStatus.SKIPPED.value, job_id, StageStatus.PENDING.value),
            )
            candidates.settle(self._db, job_id, status is JobStatus.FAILED, reason)
            self._db.execute(
                "UPDATE jobs SET status = ?, reason = ?, version = ?, failed_stage = ?, "
                "finished_at = ? WHERE id = ?",
                (status.value, reason, version, failed_stage, utcnow(), job_id),
            )
            return self.get(job_id)

    def recover(self, max_attempts: int) -> list[Job]:
        """Jobs a dead process left running: queued again, or failed past ``max_attempts``."""
        with self._db_lock:
            recovered = []
            for job in self.jobs(limit=10_000, status=JobStatus.RUNNING):
                if job.attempts >= max_attempts:
                    self.finish(
                        job.id,
                        JobStatus.FAILED,
                        f"interrupted {job.attempts} times (the Architect stopped mid-job); "
                        "given up, nothing was released by it",
                    )
                else:
                    self._db.execute(
                        "UPDATE jobs SET status = ? WHERE id = ? AND status = ?",
                        (JobStatus.QUEUED.value, job.id, JobStatus.RUNNING.value),
                    )
                recovered.append(self.get(job.id))
            return recovered
