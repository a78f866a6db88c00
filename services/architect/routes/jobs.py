"""``GET /jobs`` and ``GET /jobs/{id}``: status, stages with timings and logs, outcome."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from ..jobs import Job, JobStatus
from ..models import JobList, Problem
from . import Context

router = APIRouter(tags=["jobs"])


@router.get("/jobs", response_model=JobList, summary="Jobs, newest first")
def list_jobs(
    ctx: Context,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    status: JobStatus | None = None,
) -> JobList:
    return JobList(jobs=ctx.jobs.jobs(limit=limit, status=status))


@router.get(
    "/jobs/{job_id}",
    response_model=Job,
    responses={404: {"model": Problem, "description": "No such job."}},
    summary="One job: status, stages, the version released or why not",
)
def get_job(ctx: Context, job_id: Annotated[str, Path(pattern=r"^[0-9a-f]{1,64}$")]) -> Job:
    return ctx.jobs.get(job_id)
