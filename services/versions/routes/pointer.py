"""``/pointer/history``: every move of the active pointer, who made it and why."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..etags import NOT_MODIFIED, etagged
from ..models import PointerHistory, Problem
from . import Registry

router = APIRouter(tags=["pointer"])


@router.get(
    "/pointer/history",
    response_model=PointerHistory,
    responses={**NOT_MODIFIED, 503: {"model": Problem, "description": "No workspace yet."}},
    summary="Every move of the active pointer",
)
def pointer_history(request: Request, registry: Registry) -> Response:
    """Activations, rollbacks, pins and unpins, newest first."""
    return etagged(request, registry.pointer_history())
