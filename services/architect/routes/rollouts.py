"""``/rollouts/live``, ``POST /rollouts/promote|abort``: the live rollout, and a person's
decision on it (the REST twin of ``ratchet rollout status|promote|abort``).

The rollout controller decides on its own; these let a person end a rollout it
holds as inconclusive, or overrule it. With none live, promote and abort are a
409 with the reason (ConflictError at the edge).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from ratchet.errors import NotFoundError
from ratchet.rollouts.manual import end_by_hand, first_weight
from ratchet.rollouts.model import Outcome, Rollout
from ratchet.rollouts.store import RolloutStore

from ..context import ArchitectContext
from ..models import Problem, RolloutEndRequest
from . import Context

router = APIRouter(tags=["rollouts"])

NONE_LIVE: dict[int | str, dict[str, Any]] = {
    409: {"model": Problem, "description": "No rollout is live: nothing to end."},
    400: {"model": Problem, "description": "Malformed JSON or fields."},
}
EndBody = Annotated[RolloutEndRequest | None, Body()]


def _store(ctx: ArchitectContext) -> RolloutStore:
    return ctx.deliverer.rollouts


@router.get(
    "/rollouts/live",
    response_model=Rollout,
    responses={404: {"model": Problem, "description": "No rollout is live."}},
    summary="The rollout serving a canary now",
)
def live_rollout(ctx: Context) -> Rollout:
    """Its canary and stable sides, weight, step, latest analysis and decisions so far."""
    live = _store(ctx).live()
    if live is None:
        raise NotFoundError("no rollout is live: the stable version serves every conversation")
    return live


def _end(ctx: ArchitectContext, outcome: Outcome, body: RolloutEndRequest | None) -> Rollout:
    return end_by_hand(
        ctx.manager,
        _store(ctx),
        outcome,
        reason=body.reason if body else "",
        first_weight=first_weight(ctx.settings),
        releases=ctx.releases,
    )


@router.post(
    "/rollouts/promote",
    response_model=Rollout,
    responses=NONE_LIVE,
    summary="Promote the live rollout: its canary serves every conversation",
)
def promote(ctx: Context, body: EndBody = None) -> Rollout:
    """The ended rollout; the next queued release (if any) starts as the canary."""
    return _end(ctx, Outcome.PROMOTE, body)


@router.post(
    "/rollouts/abort",
    response_model=Rollout,
    responses=NONE_LIVE,
    summary="Abort the live rollout: weight 0, the stable version keeps serving",
)
def abort(ctx: Context, body: EndBody = None) -> Rollout:
    """The ended rollout (the release is marked aborted and kept, never deleted)."""
    return _end(ctx, Outcome.ABORT, body)
