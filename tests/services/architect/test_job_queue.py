"""The job queue several Architects share: claims, heartbeats, leases that run out.

On SQLite and on Postgres (the ``database_url`` fixture): a second store on the
same file or database stands for a second Architect.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ratchet.db import open_database
from services.architect.context import ArchitectContext
from services.architect.heartbeat import Heartbeat
from services.architect.jobs import JobKind, JobStatus, JobStore
from services.architect.worker import recover
from tests.services.architect.conftest import architect_settings

LEASE_S = 60.0


@pytest.fixture
def jobs(tmp_path: Path, database_url: str | None) -> Iterator[JobStore]:
    store = JobStore(open_database(JobStore.schema, tmp_path / JobStore.file, database_url))
    yield store
    store.close()


def heartbeat_at(jobs: JobStore, job_id: str) -> float:
    with jobs.db.read() as tx:
        return float(tx.scalar("SELECT heartbeat_at FROM jobs WHERE id = ?", (job_id,)))


def stop_beating(jobs: JobStore, job_id: str, seconds: float) -> None:
    """The job's worker last beat ``seconds`` ago (as if it had stopped then)."""
    with jobs.db.write() as tx:
        tx.execute(
            "UPDATE jobs SET heartbeat_at = heartbeat_at - ? WHERE id = ?", (seconds, job_id)
        )


def test_a_live_workers_job_is_never_taken_back(jobs: JobStore) -> None:
    job, _ = jobs.create(JobKind.FEEDBACK, "a")
    claimed = jobs.claim_next(worker="architect-a")
    assert claimed is not None and claimed.id == job.id
    other = JobStore.beside(jobs)
    assert other.recover(max_attempts=3, lease_s=LEASE_S) == []
    assert other.stale(lease_s=LEASE_S) == []
    assert jobs.get(job.id).status is JobStatus.RUNNING
    assert jobs.heartbeat(job.id, worker="architect-a")
    assert not jobs.heartbeat(job.id, worker="architect-b")  # not b's lease to renew
    other.close()


def test_a_job_whose_worker_stopped_beating_is_queued_again_then_failed_past_max_attempts(
    jobs: JobStore,
) -> None:
    job, _ = jobs.create(JobKind.FEEDBACK, "a")
    other = JobStore.beside(jobs)
    for attempt, worker in ((1, "architect-a"), (2, "architect-b")):
        claimed = other.claim_next(worker=worker)
        assert claimed is not None and claimed.attempts == attempt
        stop_beating(jobs, job.id, LEASE_S + 5)
        (recovered,) = jobs.recover(max_attempts=2, lease_s=LEASE_S)
        assert recovered.status is (JobStatus.QUEUED if attempt == 1 else JobStatus.FAILED)
        # The stopped worker, should it wake up, learns the job is no longer its own.
        assert not other.heartbeat(job.id, worker=worker)
    failed = jobs.get(job.id)
    assert "interrupted 2 times" in failed.reason
    other.close()


def test_architects_claiming_at_once_run_each_job_exactly_once(jobs: JobStore) -> None:
    created = {jobs.create(JobKind.FEEDBACK, f"job {i}")[0].id for i in range(20)}
    architects = [JobStore.beside(jobs) for _ in range(4)]
    claimed: list[list[str]] = [[] for _ in architects]
    start = threading.Barrier(len(architects))

    def drain(index: int) -> None:
        start.wait()
        while (job := architects[index].claim_next()) is not None:
            claimed[index].append(job.id)

    threads = [threading.Thread(target=drain, args=(i,)) for i in range(len(architects))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [job_id for ids in claimed for job_id in ids]
    assert sorted(everything) == sorted(created)  # every job once, none twice
    for store in architects:
        store.close()


def test_a_heartbeat_renews_the_lease_while_the_job_runs_and_notices_losing_it(
    jobs: JobStore,
) -> None:
    job, _ = jobs.create(JobKind.FEEDBACK, "a")
    jobs.claim_next()
    stop_beating(jobs, job.id, 1000)
    stale = heartbeat_at(jobs, job.id)
    with Heartbeat(jobs, job.id, lease_s=0.2) as beat:  # a beat every 0.05 s
        deadline = time.monotonic() + 10
        while heartbeat_at(jobs, job.id) < stale + 500:
            assert time.monotonic() < deadline, "no heartbeat within 10 s"
            time.sleep(0.02)
        stop_beating(jobs, job.id, 1000)
        (recovered,) = jobs.recover(max_attempts=3, lease_s=LEASE_S)
        assert recovered.status is JobStatus.QUEUED
        deadline = time.monotonic() + 10
        while not beat.lost:
            assert time.monotonic() < deadline, "the lost lease went unnoticed for 10 s"
            time.sleep(0.02)


def test_an_architect_starting_takes_back_only_what_its_queue_allows(
    tmp_path: Path, database_url: str | None
) -> None:
    """At start, on the home's SQLite file (one Architect per home) every running job is
    its dead predecessor's and is queued again; on a shared database only the job
    whose worker stopped beating is, never a live Architect's."""
    settings = architect_settings(tmp_path / "home", database_url=database_url)
    ctx = ArchitectContext.from_settings(settings)
    try:
        live, _ = ctx.jobs.create(JobKind.FEEDBACK, "live")
        dead, _ = ctx.jobs.create(JobKind.FEEDBACK, "dead")
        ctx.jobs.claim_next(worker="another-architect")
        ctx.jobs.claim_next(worker="a-killed-architect")
        stop_beating(ctx.jobs, dead.id, settings.job_lease_s + 5)
        taken = {job.id for job in recover(ctx)}
        assert taken == ({dead.id} if database_url else {live.id, dead.id})
        assert ctx.jobs.get(live.id).status is (
            JobStatus.RUNNING if database_url else JobStatus.QUEUED
        )
    finally:
        ctx.close()
