"""Per-candidate records of a job in the jobs' database: each candidate's stages, metrics and fate.

A job with several candidates runs the candidate stages once per candidate;
each run is a row of its own (``candidate_stages``), so a second candidate
never overwrites the first's. The job's own row for such a stage is shown as
their aggregate (:func:`aggregate`): running while any runs, passed when one
passed, the summed time, each candidate's log under its number.
"""

from __future__ import annotations

import json

from ratchet.db import Tx
from ratchet.state.document import utcnow

from .model import LOG_CHARS, CandidateRecord, CandidateStatus, Stage, StageStatus

# A schema step: ``{{}}`` is a literal ``{}`` once the dialect fills in its types.
SCHEMA = """
CREATE TABLE IF NOT EXISTS candidates (
    job_id TEXT NOT NULL REFERENCES jobs(id),
    idx INTEGER NOT NULL,
    coder TEXT NOT NULL,
    summary TEXT NOT NULL DEFAULT '',
    fingerprint TEXT NOT NULL DEFAULT '',
    commit_sha TEXT,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    metrics TEXT NOT NULL DEFAULT '{{}}',
    seconds TEXT NOT NULL DEFAULT '{{}}',
    PRIMARY KEY (job_id, idx)
);
CREATE TABLE IF NOT EXISTS candidate_stages (
    job_id TEXT NOT NULL REFERENCES jobs(id),
    idx INTEGER NOT NULL,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    status TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    seconds {real},
    log TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (job_id, idx, name)
);
"""


def save(tx: Tx, job_id: str, record: CandidateRecord) -> None:
    """Insert or update a candidate's record (its stages are written apart)."""
    tx.execute(
        "INSERT INTO candidates (job_id, idx, coder, summary, fingerprint, commit_sha, status,"
        " reason, metrics, seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (job_id, idx) DO UPDATE SET coder = excluded.coder,"
        " summary = excluded.summary, fingerprint = excluded.fingerprint,"
        " commit_sha = excluded.commit_sha, status = excluded.status, reason = excluded.reason,"
        " metrics = excluded.metrics, seconds = excluded.seconds",
        (
            job_id,
            record.index,
            record.coder,
            record.summary,
            record.fingerprint,
            record.commit,
            record.status.value,
            record.reason,
            json.dumps(record.metrics),
            json.dumps(record.seconds),
        ),
    )


def stage_started(tx: Tx, job_id: str, index: int, name: str, position: int) -> None:
    tx.execute(
        "INSERT INTO candidate_stages (job_id, idx, name, position, status, started_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (job_id, idx, name) DO UPDATE SET"
        " status = excluded.status, started_at = excluded.started_at, finished_at = NULL,"
        " seconds = NULL, log = ''",
        (job_id, index, name, position, StageStatus.RUNNING.value, utcnow()),
    )


def stage_finished(
    tx: Tx,
    job_id: str,
    index: int,
    name: str,
    status: StageStatus,
    seconds: float,
    log: str,
) -> None:
    tx.execute(
        "UPDATE candidate_stages SET status = ?, finished_at = ?, seconds = ?, log = ?"
        " WHERE job_id = ? AND idx = ? AND name = ?",
        (status.value, utcnow(), round(seconds, 3), log[-LOG_CHARS:], job_id, index, name),
    )


def forget(tx: Tx, job_id: str) -> None:
    """A job run again starts its candidates afresh."""
    tx.execute("DELETE FROM candidate_stages WHERE job_id = ?", (job_id,))
    tx.execute("DELETE FROM candidates WHERE job_id = ?", (job_id,))


def settle(tx: Tx, job_id: str, failed: bool, reason: str) -> None:
    """The job ended: candidates still running end with it (rejected, or failed)."""
    status = CandidateStatus.FAILED if failed else CandidateStatus.REJECTED
    tx.execute(
        "UPDATE candidates SET status = ?, reason = ? WHERE job_id = ? AND status = ?",
        (status.value, f"the job ended: {reason}", job_id, CandidateStatus.RUNNING.value),
    )
    tx.execute(
        "UPDATE candidate_stages SET status = ?, finished_at = ? WHERE job_id = ? AND status = ?",
        (StageStatus.FAILED.value, utcnow(), job_id, StageStatus.RUNNING.value),
    )


def load(tx: Tx, job_id: str) -> list[CandidateRecord]:
    stages: dict[int, list[Stage]] = {}
    for row in tx.all(
        "SELECT idx, name, status, started_at, finished_at, seconds, log FROM candidate_stages"
        " WHERE job_id = ? ORDER BY idx, position",
        (job_id,),
    ):
        stages.setdefault(row[0], []).append(
            Stage(
                name=row[1],
                status=StageStatus(row[2]),
                started_at=row[3],
                finished_at=row[4],
                seconds=row[5],
                log=row[6],
            )
        )
    rows = tx.all(
        "SELECT idx, coder, summary, fingerprint, commit_sha, status, reason, metrics, seconds"
        " FROM candidates WHERE job_id = ? ORDER BY idx",
        (job_id,),
    )
    return [
        CandidateRecord(
            index=r[0],
            coder=r[1],
            summary=r[2],
            fingerprint=r[3],
            commit=r[4],
            status=CandidateStatus(r[5]),
            reason=r[6],
            metrics=json.loads(r[7]),
            seconds=json.loads(r[8]),
            stages=stages.get(r[0], []),
        )
        for r in rows
    ]


def aggregate(stage: Stage, candidates: list[CandidateRecord]) -> Stage:
    """The job's view of a candidate stage: every candidate's run of it in one row."""
    runs = [(c.index, s) for c in candidates for s in c.stages if s.name == stage.name]
    if not runs:
        return stage
    statuses = {s.status for _, s in runs}
    status = next(
        (s for s in (StageStatus.RUNNING, StageStatus.PASSED, StageStatus.FAILED) if s in statuses),
        stage.status,
    )
    started = [s.started_at for _, s in runs if s.started_at]
    finished = [s.finished_at for _, s in runs if s.finished_at]
    logs = [
        f"candidate {index}: {line}" for index, s in runs for line in s.log.splitlines() if line
    ]
    return Stage(
        name=stage.name,
        status=status,
        started_at=min(started) if started else None,
        finished_at=max(finished) if finished and status is not StageStatus.RUNNING else None,
        # The total is known once no run is still going (a partial sum would read as it).
        seconds=(
            None
            if any(s.seconds is None for _, s in runs)
            else round(sum(s.seconds or 0.0 for _, s in runs), 3)
        ),
        log="\n".join(logs)[-LOG_CHARS:],
    )
