"""An Architect whose home lacks the active release (another home made it) refuses the
job: a release here would be made on older code and numbered from this home's tags."""

from __future__ import annotations

import uuid
from pathlib import Path

from ratchet.config import Backend
from ratchet.objects.s3 import make_client
from services.architect.context import ArchitectContext
from services.architect.jobs import JobKind, JobStatus
from services.architect.worker import Worker
from tests.conftest import git
from tests.helpers.releases import release_file
from tests.helpers.s3server import S3Server
from tests.services.architect.conftest import architect_settings


def test_a_job_in_a_home_that_lacks_the_active_release_is_rejected(
    tmp_path: Path, s3_server: S3Server
) -> None:
    bucket = f"shared-{uuid.uuid4().hex[:16]}"  # the two homes share it, and only it
    shared = {"backend": Backend.S3, "s3_endpoint_url": s3_server.endpoint, "s3_bucket": bucket}
    make_client(s3_server.endpoint, "us-east-1").create_bucket(Bucket=bucket)
    home_a = architect_settings(tmp_path / "a", **shared)
    home_b = architect_settings(tmp_path / "b", **shared)  # serves A's pointer
    made_in_a = release_file(home_a, "feature.txt", "made in A\n", "a feature")

    ctx = ArchitectContext.from_settings(home_b)
    try:
        ctx.jobs.create(JobKind.FEEDBACK, "route card questions better", patch=None)
        (job,) = Worker(ctx).run_pending()
    finally:
        ctx.close()
    assert job.status is JobStatus.REJECTED
    assert "made in another home" in job.reason and made_in_a.commit[:12] in job.reason
    assert git(home_b.workspace_path, "tag", "-l").split() == ["v0.1.0"]  # nothing tagged
