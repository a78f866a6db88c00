"""A rollout: one release served as the canary next to the stable version, in steps.

The record is the truth of a rollout (:mod:`ratchet.rollouts.store` keeps it);
the pointer's ``canary`` field is derived from it, so a crash between the two
writes is repaired by making the pointer match the record again
(:func:`ratchet.rollouts.delivery.reconcile`). Outcomes follow Argo Rollouts'
vocabulary: a step *continues* while evidence is gathered, the rollout moves
to the *next step*, is *promoted* (the pointer moves to the canary), *aborted*
(weight 0, stable keeps serving, the release is marked aborted and kept) or
held as *inconclusive* for a person to decide.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from ratchet.state import Canary, Pointer, StateDocument
from ratchet.state.document import utcnow


class RolloutStatus(StrEnum):
    QUEUED = "queued"  # released during another rollout: starts when that one ends
    RUNNING = "running"
    HELD = "held"  # inconclusive: `ratchet rollout promote|abort` decides
    PROMOTED = "promoted"
    ABORTED = "aborted"

    @property
    def live(self) -> bool:
        """Whether the rollout serves its canary now (running or held)."""
        return self in (RolloutStatus.RUNNING, RolloutStatus.HELD)

    @property
    def ended(self) -> bool:
        return self in (RolloutStatus.PROMOTED, RolloutStatus.ABORTED)


class Outcome(StrEnum):
    CONTINUE = "continue"
    NEXT_STEP = "next_step"
    PROMOTE = "promote"
    ABORT = "abort"
    INCONCLUSIVE = "inconclusive"


class Side(BaseModel):
    """A release as one side of a rollout: its version, code and exact state."""

    version: str
    commit: str | None = None
    snapshot: str  # object key of its state document (write-once)
    state_hash: str
    state_revision: int

    @classmethod
    def of_pointer(cls, pointer: Pointer) -> Side:
        return cls(
            version=pointer.version,
            commit=pointer.commit,
            snapshot=pointer.snapshot,
            state_hash=pointer.state_hash,
            state_revision=pointer.state_revision,
        )

    @classmethod
    def of_document(
        cls, version: str, commit: str | None, snapshot: str, document: StateDocument
    ) -> Side:
        return cls(
            version=version,
            commit=commit,
            snapshot=snapshot,
            state_hash=document.content_hash(),
            state_revision=document.revision,
        )


class Decision(BaseModel):
    """One outcome of the analysis (or of a person), with the numbers that decided it."""

    at: str = Field(default_factory=utcnow)
    outcome: Outcome
    step: int
    weight: float
    actor: str  # "analysis" or who ran `ratchet rollout promote|abort`
    reasons: list[str] = Field(default_factory=list)
    analysis: dict[str, Any] = Field(default_factory=dict)


class Rollout(BaseModel):
    id: str  # "1", "2", ... in the order releases were made
    status: RolloutStatus = RolloutStatus.QUEUED
    canary: Side
    stable: Side | None = None  # set when it starts: the version served then
    author: str  # who made the release: tuner | architect | human
    reason: str = ""
    created_at: str = Field(default_factory=utcnow)
    started_at: str | None = None
    ended_at: str | None = None
    step: int = 0  # index into the policy's steps
    step_started_at: str | None = None
    weight: float = Field(default=0.0, ge=0, le=1)
    decisions: list[Decision] = Field(default_factory=list)  # every outcome but `continue`
    latest: Decision | None = None  # the last analysis, `continue` included
    # Whether the pointer reflects how it ended (promotion moved it, abort cleared the
    # canary): the record is written first, so a crash in between is finished later.
    applied: bool = False

    @property
    def version(self) -> str:
        return self.canary.version

    @property
    def verdict(self) -> Decision | None:
        """The decision that ended it (promote or abort), if it ended."""
        if not self.status.ended or not self.decisions:
            return None
        return self.decisions[-1]

    def pointer_canary(self) -> Canary | None:
        """What the pointer's ``canary`` field must say while this rollout is current."""
        if not self.status.live:
            return None
        return Canary(
            rollout=self.id,
            version=self.canary.version,
            commit=self.canary.commit,
            snapshot=self.canary.snapshot,
            state_hash=self.canary.state_hash,
            state_revision=self.canary.state_revision,
            weight=self.weight,
        )
