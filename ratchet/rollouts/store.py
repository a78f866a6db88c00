"""Every rollout of a home in one document, changed by compare-and-swap.

One document (``rollouts.json`` in the state store, each revision kept under
``history/rollouts/``) makes the rules that span rollouts one atomic write:
at most one rollout is live, a release made meanwhile queues behind it, and
two controllers (or a controller and a person) deciding at once cannot both
win. A home makes a few releases a day, so the document stays small.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from pydantic import BaseModel, Field, ValidationError

from ratchet.errors import ConflictError, CorruptDocumentError, NotFoundError, StaleRevisionError
from ratchet.objects.base import ObjectStore
from ratchet.rollouts.model import Rollout, RolloutStatus
from ratchet.state.revisioned import RevisionedDocument, Snapshot

ROLLOUTS_KEY = "rollouts.json"

Change = Callable[[list[Rollout]], list[Rollout] | None]


class _Document(BaseModel):
    revision: int = 0
    rollouts: list[Rollout] = Field(default_factory=list)  # oldest first


class RolloutStore:
    def __init__(self, store: ObjectStore) -> None:
        self._doc = RevisionedDocument(store, ROLLOUTS_KEY, "history/rollouts")

    def _read(self) -> tuple[_Document, Snapshot | None]:
        snapshot = self._doc.read_or_none()
        if snapshot is None:
            return _Document(), None
        try:
            return _Document.model_validate(snapshot.document), snapshot
        except ValidationError as exc:
            raise CorruptDocumentError(
                f"{ROLLOUTS_KEY} is not a rollouts document: {str(exc).splitlines()[0]}"
            ) from None

    def all(self) -> list[Rollout]:
        """Every rollout, oldest first."""
        return self._read()[0].rollouts

    def get(self, rollout_id: str) -> Rollout:
        for rollout in self.all():
            if rollout.id == rollout_id:
                return rollout
        raise NotFoundError(f"no rollout {rollout_id}")

    def of_version(self, version: str) -> Rollout | None:
        """The rollout of release ``version``, if it had one."""
        return next((r for r in self.all() if r.version == version), None)

    def live(self) -> Rollout | None:
        """The rollout serving a canary now (running or held), if any."""
        return live_of(self.all())

    def update(self, change: Change, *, attempts: int = 100) -> list[Rollout]:
        """Re-read, re-apply ``change`` (a pure function of the rollouts it is given;
        None: nothing to write) and retry until the swap lands; the rollouts after it."""
        for attempt in range(attempts):
            document, snapshot = self._read()
            changed = change([r.model_copy(deep=True) for r in document.rollouts])
            if changed is None:
                return document.rollouts
            body = {"rollouts": [r.model_dump(mode="json") for r in changed]}
            try:
                if snapshot is None:
                    self._doc.create({**body, "revision": 0})
                else:
                    self._doc.write(body, snapshot.revision, base=snapshot)
            except (StaleRevisionError, ConflictError):
                time.sleep(random.uniform(0, min(0.05, 0.001 * 2 ** min(attempt, 6))))
                continue
            return changed
        raise ConflictError(f"{ROLLOUTS_KEY} kept moving: gave up after {attempts} attempts")


def live_of(rollouts: list[Rollout]) -> Rollout | None:
    return next((r for r in rollouts if r.status.live), None)


def next_queued(rollouts: list[Rollout]) -> Rollout | None:
    """The oldest release waiting for its rollout."""
    return next((r for r in rollouts if r.status == RolloutStatus.QUEUED), None)


def next_id(rollouts: list[Rollout]) -> str:
    return str(max((int(r.id) for r in rollouts if r.id.isdigit()), default=0) + 1)
