"""``/task``: the task the home serves, so a client knows what the releases route."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..etags import NOT_MODIFIED, etagged
from ..models import Problem, TaskInfo
from . import Registry

router = APIRouter(tags=["task"])


@router.get(
    "/task",
    response_model=TaskInfo,
    responses={
        **NOT_MODIFIED,
        404: {"model": Problem, "description": "The workspace serves no task."},
        503: {"model": Problem, "description": "No workspace yet."},
    },
    summary="The task the home serves",
)
def task(request: Request, registry: Registry) -> Response:
    """Its name, kind and description, its labels, its rows per split, source and licence
    (every release names its task too: `task` in `/versions`)."""
    return etagged(request, registry.task())
