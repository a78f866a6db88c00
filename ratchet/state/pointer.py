"""The active pointer: which released version the fleet serves, and why.

During a rollout (:mod:`ratchet.rollouts`) the pointer also names the *canary*:
the release being tried on a share of new conversations next to the stable
version. Runners split by this field, so every replica splits the same way.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from ratchet.state.document import utcnow

POINTER_KEY = "pointer.json"


class PointerAction(StrEnum):
    ACTIVATE = "activate"
    ROLLBACK = "rollback"
    PIN = "pin"
    UNPIN = "unpin"
    CANARY = "canary"  # a rollout started, changed its weight, or ended without promotion


class Canary(BaseModel):
    """The release a rollout serves to ``weight`` of new conversations."""

    rollout: str  # the rollout's id (ratchet.rollouts)
    version: str
    commit: str | None = None
    snapshot: str  # object key of the canary's state document
    state_hash: str
    state_revision: int
    weight: float = Field(ge=0, le=1)


class Pointer(BaseModel):
    """One revision of the pointer; every revision is kept as history."""

    revision: int = 0
    version: str
    commit: str | None = None
    snapshot: str  # object key of the exact state document served
    state_hash: str
    state_revision: int
    pinned: bool = False
    action: PointerAction = PointerAction.ACTIVATE
    actor: str
    reason: str = ""
    at: str = Field(default_factory=utcnow)
    write_id: str | None = None
    canary: Canary | None = None
