"""Rollouts as the Versions API shows them: the list, one record, a release's verdict.

Read from the rollouts document (:class:`ratchet.rollouts.store.RolloutStore`),
which the rollout controller and ``ratchet rollout promote|abort`` write; this
module only reads it and shapes the answers (the models are the contract).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field

from ratchet.rollouts.model import Decision, Rollout, RolloutStatus, Side
from ratchet.rollouts.store import RolloutStore

from .errors import InvalidRequest

ROLLOUT_ID_PATTERN = r"^[1-9][0-9]{0,9}$"


class RolloutDecision(BaseModel):
    """One outcome of the analysis (or of a person), with the numbers that decided it."""

    at: str
    outcome: str = Field(description="continue | next_step | promote | abort | inconclusive")
    step: int = Field(description="The step it was taken at (0: the first).")
    weight: float = Field(description="The canary's share of new conversations then.")
    actor: str = Field(description="`analysis`, or the person who ran promote/abort.")
    reasons: list[str]
    analysis: dict[str, Any] = Field(
        description="The analysis's numbers (canary against stable), as it recorded them."
    )


class RolloutSide(BaseModel):
    """One side of a rollout: the release and the exact state it serves."""

    version: str
    commit: str | None
    state_hash: str
    state_revision: int


class RolloutSummary(BaseModel):
    """A rollout as listed."""

    id: str = Field(description="1, 2, ... in the order releases were made.")
    status: RolloutStatus
    canary: str = Field(description="The release tried on a share of new conversations.")
    stable: str | None = Field(description="The version served beside it (null while queued).")
    weight: float = Field(description="The canary's share of new conversations now.")
    step: int = Field(description="The current step (0: the first).")
    author: str = Field(description="Who made the release: tuner | architect | human.")
    reason: str
    created_at: str
    started_at: str | None
    ended_at: str | None
    verdict: RolloutDecision | None = Field(
        description="The decision that ended it (promote or abort); null until it ends."
    )
    latest: RolloutDecision | None = Field(
        description="The latest analysis, `continue` included; null before the first."
    )


class RolloutDetail(RolloutSummary):
    """A rollout in full: both sides and every decision."""

    canary_release: RolloutSide
    stable_release: RolloutSide | None
    step_started_at: str | None
    decisions: list[RolloutDecision] = Field(description="Every outcome but `continue`.")
    applied: bool = Field(description="The pointer reflects how it ended.")


class RolloutPage(BaseModel):
    rollouts: list[RolloutSummary] = Field(description="Newest first.")
    total: int = Field(description="Rollouts in all.")
    live: str | None = Field(description="The id of the rollout serving a canary now, if any.")


class ReleaseRollout(BaseModel):
    """A release's rollout, as ``/versions/{v}`` shows it."""

    id: str
    status: RolloutStatus
    weight: float
    verdict: RolloutDecision | None

    def words(self) -> str:
        """``3 aborted (abort by human: worse)`` or ``3 running at weight 0.1``, as
        ``ratchet versions show`` prints it."""
        if self.verdict is None:
            return f"{self.id} {self.status.value} at weight {self.weight:g}"
        reasons = "; ".join(self.verdict.reasons)
        said = f"{self.verdict.outcome} by {self.verdict.actor}" + (
            f": {reasons}" if reasons else ""
        )
        return f"{self.id} {self.status.value} ({said})"


def _decision(decision: Decision | None) -> RolloutDecision | None:
    if decision is None:
        return None
    return RolloutDecision.model_validate(decision.model_dump(mode="json"))


def _side(side: Side) -> RolloutSide:
    return RolloutSide(
        version=side.version,
        commit=side.commit,
        state_hash=side.state_hash,
        state_revision=side.state_revision,
    )


def _summary_fields(rollout: Rollout) -> dict[str, Any]:
    return {
        "id": rollout.id,
        "status": rollout.status,
        "canary": rollout.version,
        "stable": rollout.stable.version if rollout.stable else None,
        "weight": rollout.weight,
        "step": rollout.step,
        "author": rollout.author,
        "reason": rollout.reason,
        "created_at": rollout.created_at,
        "started_at": rollout.started_at,
        "ended_at": rollout.ended_at,
        "verdict": _decision(rollout.verdict),
        "latest": _decision(rollout.latest),
    }


def page(store: RolloutStore, limit: int) -> RolloutPage:
    """The newest ``limit`` rollouts."""
    every = store.all()
    live = next((r.id for r in every if r.status.live), None)
    newest = list(reversed(every))[:limit]
    return RolloutPage(
        rollouts=[RolloutSummary(**_summary_fields(r)) for r in newest],
        total=len(every),
        live=live,
    )


def detail(store: RolloutStore, rollout_id: str) -> RolloutDetail:
    """One rollout; InvalidRequest (400) for a malformed id, NotFoundError (404) unknown."""
    if not re.fullmatch(ROLLOUT_ID_PATTERN, rollout_id):
        raise InvalidRequest(
            f"rollout id: expected a positive integer such as 3, not {rollout_id!r}"
        )
    rollout = store.get(rollout_id)
    return RolloutDetail(
        **_summary_fields(rollout),
        canary_release=_side(rollout.canary),
        stable_release=_side(rollout.stable) if rollout.stable else None,
        step_started_at=rollout.step_started_at,
        decisions=[
            RolloutDecision.model_validate(d.model_dump(mode="json")) for d in rollout.decisions
        ],
        applied=rollout.applied,
    )


def of_release(store: RolloutStore, version: str) -> ReleaseRollout | None:
    """The rollout release ``version`` went through, if it had one."""
    rollout = store.of_version(version)
    if rollout is None:
        return None
    return ReleaseRollout(
        id=rollout.id,
        status=rollout.status,
        weight=rollout.weight,
        verdict=_decision(rollout.verdict),
    )
