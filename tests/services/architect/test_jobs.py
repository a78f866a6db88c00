"""The durable job store: intake, idempotency, claiming, stages, recovery."""

from __future__ import annotations

from pathlib import Path

import pytest

from ratchet.errors import NotFoundError
from services.architect.jobs import STAGES, JobKind, JobStatus, JobStore, StageStatus


@pytest.fixture
def jobs(tmp_path: Path) -> JobStore:
    return JobStore(tmp_path / "jobs.sqlite3")


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


def test_jobs_are_claimed_oldest_first_and_once(jobs: JobStore, tmp_path: Path) -> None:
    a, _ = jobs.create(JobKind.FEEDBACK, "a")
    b, _ = jobs.create(JobKind.WAKE, "b", evidence={"burn": 14.4})
    other = JobStore(tmp_path / "jobs.sqlite3")  # a second process on the same file
    claimed = [jobs.claim_next(), other.claim_next(), jobs.claim_next()]
    assert [j.id if j else None for j in claimed] == [a.id, b.id, None]
    assert claimed[1] is not None and claimed[1].evidence == {"burn": 14.4}
    assert all(j.status is JobStatus.RUNNING and j.attempts == 1 for j in claimed if j)


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
