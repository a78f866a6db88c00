"""Whether staging still follows the served release, or a move of the pointer left it behind.

Staging is made from a release's state and released back as a patch of it, so
it must follow the pointer. A move keeps it in line when it keeps the state
(pin, unpin) or serves a state staging held (a release of one of its
revisions: the Tuner's patches). Any other move (an Architect release with a
new state, an activation by hand, a rollback) leaves staging on the state of
the last move it was in line with, its *base*: whoever writes staging must
rebase it on the active state before releasing it, or the release would put
the old state back on the new code.
"""

from __future__ import annotations

from dataclasses import dataclass

from ratchet.errors import NotFoundError
from ratchet.state.document import StateDocument
from ratchet.state.manager import StateManager
from ratchet.state.pointer import Pointer, PointerAction


@dataclass(frozen=True, slots=True)
class Drift:
    """Where staging stands against the pointer now."""

    pointer: Pointer  # the pointer it was placed against
    active: StateDocument | None = None  # its state when staging was left behind, else None
    base: StateDocument | None = None  # then, the state staging was made from (None: unknown)

    @property
    def left_behind(self) -> bool:
        """A move since the base served a state staging never held: rebase on ``active``."""
        return self.active is not None


def holds(manager: StateManager, pointer: Pointer) -> bool:
    """Whether staging's revision ``pointer.state_revision`` was the state ``pointer`` serves."""
    try:
        held = manager.staging_at(pointer.state_revision)
    except NotFoundError:
        return False
    _, data = manager.migrations.upgrade(held.schema_version, held.data)
    return data == manager.pointer_state(pointer).data


def drift(manager: StateManager, staging: StateDocument, based_on: int | None) -> Drift | None:
    """Where ``staging``, last in line with pointer revision ``based_on``, stands now
    (None when nothing is served). Without ``based_on`` the pointer's whole history is
    walked, so a staging from before this record is placed too."""
    pointer = manager.pointer()
    if pointer is None:
        return None
    if based_on == pointer.revision:
        return Drift(pointer)
    active = manager.pointer_state(pointer)
    if staging.data == active.data:
        return Drift(pointer)
    moves = manager.pointer_moves(based_on or 0)
    base: Pointer | None = None
    if based_on is not None and moves and moves[0].revision == based_on:
        base, moves = moves[0], moves[1:]
    for move in moves:
        if move.revision > pointer.revision:
            break  # moved again since the read: the next call places staging there
        if move.action in (PointerAction.PIN, PointerAction.UNPIN, PointerAction.CANARY):
            continue  # the same stable state (a canary is served beside it, not instead)
        if move.action == PointerAction.ACTIVATE and holds(manager, move):
            base = move
            continue
        known = None if base is None else manager.pointer_state(base)
        return Drift(pointer, active, known)
    return Drift(pointer)
