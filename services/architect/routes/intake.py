"""``POST /feedback`` and ``POST /wake``: every intake becomes a durable job (202)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ratchet.rest import InvalidRequest

from ..coders import check_diff
from ..jobs import Job, JobKind
from ..models import FeedbackRequest, JobAccepted, Problem, WakeRequest
from . import Context, JobWorker

router = APIRouter(tags=["intake"])
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "Malformed JSON, fields or diff."},
    413: {"model": Problem, "description": "Body over the size limit."},
}


def _accepted(job: Job, created: bool) -> JSONResponse:
    body = JobAccepted(job_id=job.id, status=job.status, duplicate=not created)
    return JSONResponse(body.model_dump(), status_code=202, headers={"Location": f"/jobs/{job.id}"})


@router.post(
    "/feedback",
    status_code=202,
    response_model=JobAccepted,
    responses=ERRORS,
    summary="Feedback (text, optional unified diff) for the Architect",
)
def feedback(body: FeedbackRequest, ctx: Context, worker: JobWorker) -> JSONResponse:
    """Queue a job; its id leads to a final status (`GET /jobs/{id}`). A `patch` must
    parse as a unified diff, or nothing is queued."""
    if body.patch is not None:
        try:
            check_diff(body.patch)
        except ValueError as exc:
            raise InvalidRequest(f"patch: {exc}") from None
    job, created = ctx.jobs.create(
        JobKind.FEEDBACK, body.text, patch=body.patch, idempotency_key=body.idempotency_key
    )
    worker.notify()
    return _accepted(job, created)


@router.post(
    "/wake",
    status_code=202,
    response_model=JobAccepted,
    responses=ERRORS,
    summary="The Triggerer's alarm, with its evidence",
)
def wake(body: WakeRequest, ctx: Context, worker: JobWorker) -> JSONResponse:
    """Queue a job for an incident (one per idempotency key)."""
    job, created = ctx.jobs.create(
        JobKind.WAKE,
        f"SLO alarm: {body.reason}",
        idempotency_key=body.idempotency_key,
        evidence=body.evidence,
    )
    worker.notify()
    return _accepted(job, created)
