"""The active pointer: which released version the fleet serves, and why."""

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
