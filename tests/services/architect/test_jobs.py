"""The durable job store: intake, idempotency, claiming, stages, recovery; on SQLite
and on Postgres (the ``database_url`` fixture)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from ratchet.db import Dialect, open_database
from ratchet.errors import NotFoundError
from services.architect.jobs import (
    STAGES,
    CandidateRecord,
    CandidateStatus,
    JobKind,
    JobStatus,
    JobStore,
    StageStatus,
)


@pytest.fixture
def jobs(tmp_path: Path, database_url: str | None) -> Iterator[JobStore]:
    store = JobStore(open_database(JobStore.schema, tmp_path / JobStore.file, database_url))
    yield store
    store.close()


def test_a_job_is_queued_with_every_stage_pending(jobs: JobStore) -> None:
    job, created = jobs.create(JobKind.FEEDBACK, "make it better", patch="diff")
    assert created and job.status is JobStatus.QUEUED and job.has_patch
    assert [s.name for s in job.stages] == list(STAGES)
    assert {s.status for s in job.stages} == {StageStatus.PENDING}
    assert jobs.patch_of(job.id) == "diff"


def test_a_repeated_idempotency_key_returns_the_first_job(jobs: JobStore) -> None:
    first, _ = jobs.create(JobKind.FEEDBACK, "a", idempotency_key="k1")
    again, created = jobs.create(JobKind.FEEDBACK, "b", idempotency_key="k1")
    assert not created and again.id == first.id and again.text == "a"
    assert len(jobs.jobs()) == 1


def test_jobs_are_claimed_oldest_first_and_once(jobs: JobStore) -> None:
    a, _ = jobs.create(JobKind.FEEDBACK, "a")
    b, _ = jobs.create(JobKind.WAKE, "b", evidence={"burn": 14.4})
    other = JobStore.beside(jobs)  # a second Architect on the same file or database
    claimed = [jobs.claim_next(), other.claim_next(), jobs.claim_next()]
    assert [j.id if j else None for j in claimed] == [a.id, b.id, None]
    assert claimed[1] is not None and claimed[1].evidence == {"burn": 14.4}
    assert all(j.status is JobStatus.RUNNING and j.attempts == 1 for j in claimed if j)
    other.close()


def test_stages_record_status_timing_and_log_and_finish_skips_the_rest(jobs: JobStore) -> None:
    job, _ = jobs.create(JobKind.FEEDBACK, "a")
    jobs.claim_next()
    jobs.stage_started(job.id, "plan")
    jobs.stage_finished(job.id, "plan", StageStatus.PASSED, 0.25, "x" * 10_000)
    done = jobs.finish(job.id, JobStatus.REJECTED, "policy", failed_stage="policy")
    plan = done.stages[0]
    assert (plan.status, plan.seconds, len(plan.log)) == (StageStatus.PASSED, 0.25, 4000)
    assert {s.status for s in done.stages[1:]} == {StageStatus.SKIPPED}
    assert (done.status, done.reason, done.failed_stage) == (JobStatus.REJECTED, "policy", "policy")


def test_recovery_requeues_an_interrupted_job_then_fails_it_past_max_attempts(
    jobs: JobStore,
) -> None:
    job, _ = jobs.create(JobKind.FEEDBACK, "a")
    for attempt in (1, 2):
        claimed = jobs.claim_next()
        assert claimed is not None and claimed.attempts == attempt
        (recovered,) = jobs.recover(max_attempts=2)
        expected = JobStatus.QUEUED if attempt == 1 else JobStatus.FAILED
        assert recovered.status is expected
    failed = jobs.get(job.id)
    assert "interrupted 2 times" in failed.reason and failed.finished_at is not None


def test_an_unknown_job_is_not_found(jobs: JobStore) -> None:
    with pytest.raises(NotFoundError):
        jobs.get("0123")


def test_each_candidate_keeps_its_own_stages_and_the_job_row_aggregates_them(
    jobs: JobStore,
) -> None:
    """A second candidate's stages are recorded beside the first's, never over them."""
    job, _ = jobs.create(JobKind.FEEDBACK, "a")
    jobs.claim_next()
    for number, (status, log) in enumerate(
        [(StageStatus.FAILED, "micro failed: case 3"), (StageStatus.PASSED, "micro passed")],
        start=1,
    ):
        jobs.save_candidate(job.id, CandidateRecord(index=number, coder="template"))
        jobs.stage_started(job.id, "micro", candidate=number)
        jobs.stage_finished(job.id, "micro", status, 1.5 * number, log, candidate=number)
    jobs.save_candidate(
        job.id,
        CandidateRecord(
            index=1,
            coder="template",
            summary="template x",
            status=CandidateStatus.REJECTED,
            reason="failed micro: case 3",
            metrics={"micro": {"cases": 40.0}},
            seconds={"micro": 1.5},
        ),
    )
    shown = jobs.get(job.id)
    first, second = shown.candidates
    assert (first.status, first.reason, first.metrics) == (
        CandidateStatus.REJECTED,
        "failed micro: case 3",
        {"micro": {"cases": 40.0}},
    )
    assert [(s.name, s.status, s.log) for s in first.stages] == [
        ("micro", StageStatus.FAILED, "micro failed: case 3")
    ]
    assert [(s.name, s.status) for s in second.stages] == [("micro", StageStatus.PASSED)]
    micro = next(s for s in shown.stages if s.name == "micro")
    assert (micro.status, micro.seconds) == (StageStatus.PASSED, 4.5)
    assert micro.log == "candidate 1: micro failed: case 3\ncandidate 2: micro passed"

    done = jobs.finish(job.id, JobStatus.FAILED, "boom")
    assert [c.status for c in done.candidates] == [CandidateStatus.REJECTED, CandidateStatus.FAILED]
    assert done.candidates[1].reason == "the job ended: boom"
    # A job run again (after a restart) starts its candidates (and warnings) afresh.
    jobs.add_warning(job.id, "ran unconfined")
    with jobs.db.write() as tx:
        tx.execute("UPDATE jobs SET status = 'queued' WHERE id = ?", (job.id,))
    again = jobs.claim_next()
    assert again is not None and again.candidates == [] and again.warnings == []


# The first release's tables: a schema's first step never changes once released.
OLD_SCHEMA = ";\n".join(Dialect.SQLITE.ddl(JobStore.schema.steps[0]))


def test_a_candidate_stage_still_running_has_no_total_yet(jobs: JobStore) -> None:
    """While any candidate's run of a stage goes on, the job row gives it no time: a
    partial sum would read as the stage's total."""
    job, _ = jobs.create(JobKind.FEEDBACK, "a")
    jobs.claim_next()
    for number in (1, 2):
        jobs.save_candidate(job.id, CandidateRecord(index=number, coder="template"))
        jobs.stage_started(job.id, "fast", candidate=number)
    jobs.stage_finished(job.id, "fast", StageStatus.PASSED, 2.0, "ok", candidate=1)
    (running,) = [s for s in jobs.get(job.id).stages if s.name == "fast"]
    assert running.status is StageStatus.RUNNING and running.seconds is None
    jobs.stage_finished(job.id, "fast", StageStatus.PASSED, 3.0, "ok", candidate=2)
    (done,) = [s for s in jobs.get(job.id).stages if s.name == "fast"]
    assert done.status is StageStatus.PASSED and done.seconds == 5.0


def test_a_job_database_of_the_first_schema_opens_and_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
        db.execute(
            "INSERT INTO jobs (id, kind, status, text, created_at, seq, reason, version)"
            " VALUES ('0a', 'feedback', 'succeeded', 'old', '2026-01-01T00:00:00Z', 1, 'ok',"
            " 'v0.2.0')"
        )
        db.execute(
            "INSERT INTO stages (job_id, name, position, status, seconds, log)"
            " VALUES ('0a', 'full', 6, 'passed', 61.5, 'full passed')"
        )
    db.close()
    store = JobStore(path)
    old = store.get("0a")
    assert (old.status, old.version, old.coder, old.candidates, old.warnings) == (
        JobStatus.SUCCEEDED,
        "v0.2.0",
        None,
        [],
        [],
    )
    assert [(s.name, s.seconds, s.log) for s in old.stages] == [("full", 61.5, "full passed")]
    new, _ = store.create(JobKind.FEEDBACK, "new")
    store.set_coder(new.id, "template")
    assert store.get(new.id).coder == "template"
    store.add_warning(new.id, "ran unconfined")
    assert store.get(new.id).warnings == ["ran unconfined"]
    store.close()
    reopened = JobStore(path)  # the migration ran once: opening again changes nothing
    with reopened.db.read() as tx:
        version = tx.scalar("SELECT version FROM ratchet_schema WHERE store = 'jobs'")
    assert version == JobStore.schema.version
    assert reopened.get("0a").version == "v0.2.0"
    reopened.close()


def test_a_job_database_of_the_last_unversioned_schema_keeps_its_jobs(tmp_path: Path) -> None:
    """A file the previous release wrote (``user_version`` 2: coder, candidates and
    warnings) is adopted at that step and only gains the lease columns."""
    path = tmp_path / "previous.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
        db.executescript(
            "ALTER TABLE jobs ADD COLUMN coder TEXT;"
            "ALTER TABLE jobs ADD COLUMN warnings TEXT NOT NULL DEFAULT '[]';"
            "CREATE TABLE candidates (job_id TEXT, idx INTEGER, coder TEXT, summary TEXT,"
            " fingerprint TEXT, commit_sha TEXT, status TEXT, reason TEXT, metrics TEXT,"
            " seconds TEXT, PRIMARY KEY (job_id, idx));"
            "CREATE TABLE candidate_stages (job_id TEXT, idx INTEGER, name TEXT,"
            " position INTEGER, status TEXT, started_at TEXT, finished_at TEXT, seconds REAL,"
            " log TEXT NOT NULL DEFAULT '', PRIMARY KEY (job_id, idx, name));"
            "PRAGMA user_version = 2;"
        )
        db.execute(
            "INSERT INTO jobs (id, kind, status, text, created_at, seq, coder, warnings)"
            " VALUES ('0b', 'feedback', 'running', 'old', '2026-01-01T00:00:00Z', 1, 'patch',"
            " '[\"ran unconfined\"]')"
        )
    db.close()
    store = JobStore(path)
    old = store.get("0b")
    assert (old.coder, old.warnings) == ("patch", ["ran unconfined"])
    # Claimed before leases existed: no heartbeat, so any lease has run out.
    assert [j.id for j in store.stale(lease_s=60)] == ["0b"]
    store.close()
