"""The stage recorder: a run whose lease ran out writes no more stages of the job."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.architect.jobs import JobKind, JobStore, StageStatus
from services.architect.stages import LeaseLost, Recorder


def test_a_run_that_lost_its_lease_stops_writing_the_jobs_stages(tmp_path: Path) -> None:
    jobs = JobStore(tmp_path / JobStore.file)
    try:
        job, _ = jobs.create(JobKind.FEEDBACK, "make it better")
        lost = False
        recorder = Recorder(jobs, job.id, lambda: lost)
        with recorder.stage("plan") as log:
            log.append("planned")
        with recorder.stage("rank"):
            lost = True  # the heartbeat found the lease gone mid-stage
        with pytest.raises(LeaseLost), recorder.stage("full"):
            raise AssertionError("a stage of a lost run must not start")
        stages = {s.name: s for s in jobs.get(job.id).stages}
        assert stages["plan"].status is StageStatus.PASSED and stages["plan"].log == "planned"
        # What the run that took the job over records is its own: nothing of this run's.
        assert stages["rank"].status is StageStatus.RUNNING and stages["rank"].seconds is None
        assert stages["full"].status is StageStatus.PENDING
    finally:
        jobs.close()
