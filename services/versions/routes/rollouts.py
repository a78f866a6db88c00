"""``/rollouts``: every rollout of a release, newest first, and one in full.

Ids in paths are checked by :mod:`..rollouts`, not by FastAPI, so a malformed
one is a 400 that says which form is expected (as versions are).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from .. import rollouts
from ..etags import NOT_MODIFIED, etagged
from ..models import Problem
from ..rollouts import ROLLOUT_ID_PATTERN, RolloutDetail, RolloutPage
from . import Registry
from .versions import BAD, MAX_LIMIT, UNAVAILABLE

router = APIRouter(tags=["rollouts"])

MISSING: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No such rollout."}
}


@router.get(
    "/rollouts",
    response_model=RolloutPage,
    responses={**NOT_MODIFIED, **BAD, **UNAVAILABLE},
    summary="Every rollout, newest first",
)
def list_rollouts(
    request: Request,
    registry: Registry,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="How many, newest first.")] = 50,
) -> Response:
    """Each release served as a canary beside the stable version: its status, weight and
    step, how it ended (the verdict) and the latest analysis of canary against stable."""
    return etagged(request, rollouts.page(registry.sources().rollouts, limit))


@router.get(
    "/rollouts/{rollout_id}",
    response_model=RolloutDetail,
    responses={**NOT_MODIFIED, **BAD, **MISSING, **UNAVAILABLE},
    summary="One rollout, with every decision",
)
def get_rollout(
    request: Request,
    registry: Registry,
    rollout_id: Annotated[
        str,
        Path(
            description="A rollout's id: 1, 2, ...",
            json_schema_extra={"pattern": ROLLOUT_ID_PATTERN},
            examples=["1"],
        ),
    ],
) -> Response:
    """Both sides (release and exact state), every decision with its reasons and numbers."""
    return etagged(request, rollouts.detail(registry.sources().rollouts, rollout_id))
