"""The State Manager: staging and active state, the active pointer, subscribers.

Truth is kept so that every step is one atomic write:

- ``staging.state.json`` is a :class:`RevisionedDocument`: compare-and-swap on
  ``revision``, every revision kept under ``history/staging/``;
- each activated state is a write-once, content-addressed snapshot
  ``snapshots/{sha256}.state.json`` (a refused activation leaves at most an
  unreferenced snapshot behind, never a conflict for the next one);
- ``pointer.json`` (also revisioned, history under ``history/pointer/``) names
  the served version; moving it is the one write that switches the fleet;
- ``active.state.json`` is a copy of the pointed-to snapshot, rewritten after
  each move (and by :meth:`StateManager.repair`) for git and for people.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ratchet.errors import ConflictError, NotFoundError, PinnedError, StaleRevisionError
from ratchet.objects.base import ObjectStore
from ratchet.state.document import ACTIVE_KEY, STAGING_KEY, StateDocument, utcnow
from ratchet.state.migrations import MigrationRegistry
from ratchet.state.pointer import POINTER_KEY, Canary, Pointer, PointerAction
from ratchet.state.revisioned import RevisionedDocument, Snapshot, dumps

log = logging.getLogger(__name__)

Subscriber = Callable[["ActiveState"], None]


@dataclass(frozen=True, slots=True)
class ActiveState:
    """What the fleet serves: the pointer and the state of its version."""

    pointer: Pointer
    document: StateDocument

    @property
    def version(self) -> str:
        return self.pointer.version

    @property
    def revision(self) -> int:
        return self.document.revision


def snapshot_key(raw: bytes) -> str:
    return f"snapshots/{hashlib.sha256(raw).hexdigest()}.state.json"


class StateManager:
    def __init__(self, store: ObjectStore, *, migrations: MigrationRegistry | None = None) -> None:
        self.store = store
        self.migrations = migrations or MigrationRegistry()
        self._staging = RevisionedDocument(store, STAGING_KEY, "history/staging")
        self._pointer = RevisionedDocument(store, POINTER_KEY, "history/pointer")
        self._subscribers: list[Subscriber] = []
        self._seen_pointer_etag: str | None = None
        self._lock = threading.Lock()

    # -- staging ---------------------------------------------------------------

    def peek_staging(self) -> StateDocument | None:
        """The staging document as stored, or None; never creates or migrates it."""
        snapshot = self._staging.read_or_none()
        return None if snapshot is None else StateDocument.parse(STAGING_KEY, snapshot.document)

    def read_staging(self) -> StateDocument:
        """The staging document, created from the active state on first use and
        migrated (and written back) when its schema is older than the code's."""
        return self._read_staging()[0]

    def _read_staging(self) -> tuple[StateDocument, Snapshot]:
        snapshot = self._staging.read_or_none()
        if snapshot is None:
            try:
                snapshot = self._staging.create(self._bootstrap_document().to_json())
            except ConflictError:
                snapshot = self._staging.read()  # another process created it first
        document = StateDocument.parse(STAGING_KEY, snapshot.document)
        version, data = self.migrations.upgrade(document.schema_version, document.data)
        if version == document.schema_version:
            return document, snapshot
        try:
            return self._write_staging(
                data, document.revision, actor="migration", base=snapshot, schema_version=version
            )
        except StaleRevisionError:
            return self._read_staging()

    def write_staging(
        self,
        data: dict[str, Any],
        *,
        expected_revision: int,
        actor: str,
        schema_version: int | None = None,
    ) -> StateDocument:
        """Compare-and-swap; StaleRevisionError when someone wrote first."""
        base = self._staging.read_or_none()  # carries the Tuner's bookkeeping over
        return self._write_staging(
            data, expected_revision, actor=actor, base=base, schema_version=schema_version
        )[0]

    def _write_staging(
        self,
        data: dict[str, Any],
        expected_revision: int,
        *,
        actor: str,
        base: Snapshot | None = None,
        schema_version: int | None = None,
        tuning: dict[str, Any] | None = None,
    ) -> tuple[StateDocument, Snapshot]:
        if tuning is None and base is not None:
            tuning = base.document.get("tuning")  # bookkeeping carries over unless replaced
        document = StateDocument(
            schema_version=schema_version or self.migrations.current_version,
            revision=expected_revision + 1,
            updated_by=actor,
            data=data,
            tuning=tuning,
        )
        snapshot = self._staging.write(document.to_json(), expected_revision, base=base)
        return StateDocument.parse(STAGING_KEY, snapshot.document), snapshot

    def update_staging(
        self,
        change: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        actor: str,
        attempts: int = 1000,
    ) -> StateDocument:
        """Re-read, re-apply ``change`` and retry until the swap lands.

        ``change`` must be a pure function of the data it is given: it runs
        again on every conflict, against the newer document.
        """
        return self.update_staging_document(
            lambda document: (change(dict(document.data)), document.tuning),
            actor=actor,
            attempts=attempts,
        )

    def update_staging_document(
        self,
        change: Callable[[StateDocument], tuple[dict[str, Any], dict[str, Any] | None] | None],
        *,
        actor: str,
        attempts: int = 1000,
    ) -> StateDocument:
        """Like :meth:`update_staging`, for a change of both ``data`` and ``tuning``:
        ``change`` gets the whole document and returns the new pair, or None when
        there is nothing to write (then the current document is returned)."""
        for attempt in range(attempts):
            current, base = self._read_staging()
            result = change(current)
            if result is None:
                return current
            data, tuning = result
            try:
                return self._write_staging(
                    data, current.revision, actor=actor, base=base, tuning=tuning
                )[0]
            except StaleRevisionError:
                # Full jitter: writers that collided spread out instead of
                # colliding again in lockstep.
                time.sleep(random.uniform(0, min(0.05, 0.001 * 2 ** min(attempt, 6))))
        raise ConflictError(f"staging kept moving: gave up after {attempts} attempts")

    def staging_history(self, since: int = 0) -> list[int]:
        return self._staging.history(since)

    def staging_at(self, revision: int) -> StateDocument:
        return StateDocument.parse(f"staging revision {revision}", self._staging.at(revision))

    def _bootstrap_document(self) -> StateDocument:
        active = self.read_active()
        if active is not None:
            return active.document
        stored = self.store.get_or_none(ACTIVE_KEY)  # e.g. committed in the workspace
        if stored is not None:
            return StateDocument.from_file_bytes(ACTIVE_KEY, stored.data)
        return StateDocument(schema_version=self.migrations.current_version)

    # -- active and the pointer ---------------------------------------------------

    def pointer(self) -> Pointer | None:
        snapshot = self._pointer.read_or_none()
        return None if snapshot is None else Pointer.model_validate(snapshot.document)

    def pointer_history(self) -> list[Pointer]:
        return [Pointer.model_validate(self._pointer.at(r)) for r in self._pointer.history()]

    def pointer_moves(self, since: int) -> list[Pointer]:
        """The pointer's revisions from ``since`` on, oldest first."""
        return [Pointer.model_validate(self._pointer.at(r)) for r in self._pointer.history(since)]

    def pointer_state(self, pointer: Pointer) -> StateDocument:
        """The state ``pointer`` names, migrated to the code's schema."""
        return self._load_snapshot(pointer.snapshot)

    def read_active(self) -> ActiveState | None:
        """The served version and its state, migrated to the code's schema."""
        pointer = self.pointer()
        if pointer is None:
            return None
        return ActiveState(pointer, self._load_snapshot(pointer.snapshot))

    def version_state(self, version: str) -> StateDocument:
        """The state ``version`` was last served with (NotFoundError if never served)."""
        for entry in reversed(self.pointer_history()):
            if entry.version == version:
                return self._load_snapshot(entry.snapshot)
        raise NotFoundError(f"version {version} was never active: no state recorded for it")

    def _load_snapshot(self, key: str) -> StateDocument:
        document = StateDocument.from_file_bytes(key, self.store.get(key).data)
        schema_version, data = self.migrations.upgrade(document.schema_version, document.data)
        return document.model_copy(update={"schema_version": schema_version, "data": data})

    def activate(
        self,
        version: str,
        document: StateDocument,
        *,
        actor: str,
        reason: str,
        commit: str | None = None,
    ) -> Pointer:
        """Record ``version``'s state and move the pointer to it (refused when pinned)."""
        self._refuse_if_pinned(self.pointer())
        key = self.record_state(document)
        return self._move(
            lambda current: Pointer(
                version=version,
                commit=commit,
                snapshot=key,
                state_hash=document.content_hash(),
                state_revision=document.revision,
                action=PointerAction.ACTIVATE,
                actor=actor,
                reason=reason,
            )
        )

    def rollback(self, *, actor: str, reason: str, to: str | None = None) -> Pointer:
        """Move back to ``to``, or to the version served before the current one."""
        target = to or self._previous_version()
        served = [p for p in self.pointer_history() if p.version == target]
        if not served:
            raise NotFoundError(f"version {target} was never active: nothing to roll back to")
        last = served[-1]
        return self._move(
            lambda current: last.model_copy(
                update={
                    "action": PointerAction.ROLLBACK,
                    "actor": actor,
                    "reason": reason,
                    "pinned": False,
                    "canary": None,  # a rollback ends any rollout: stable alone serves
                    "at": utcnow(),
                }
            )
        )

    def record_state(self, document: StateDocument) -> str:
        """Store ``document`` as a write-once snapshot; its object key."""
        raw = dumps(document.to_json(), pretty=True)  # also the file git tracks
        key = snapshot_key(raw)
        self.store.put_once(key, raw)
        return key

    def set_canary(
        self, make: Callable[[Pointer], Canary | None], *, actor: str, reason: str
    ) -> Pointer:
        """Serve ``make(current)`` as the canary beside the stable version (None: no
        canary). The stable version and its state stay; a pinned pointer refuses."""

        def change(current: Pointer | None) -> Pointer:
            if current is None:
                raise NotFoundError("no active version yet: a canary needs a stable version")
            return current.model_copy(
                update={
                    "canary": make(current),
                    "action": PointerAction.CANARY,
                    "actor": actor,
                    "reason": reason,
                    "at": utcnow(),
                }
            )

        return self._move(change)

    def canary_state(self, canary: Canary) -> StateDocument:
        """The state ``canary`` serves, migrated to the code's schema."""
        return self._load_snapshot(canary.snapshot)

    def snapshot_state(self, key: str) -> StateDocument:
        """The state recorded under ``key`` (:meth:`record_state`), migrated."""
        return self._load_snapshot(key)

    def pin(self, *, actor: str, reason: str) -> Pointer:
        return self._set_pinned(True, actor=actor, reason=reason)

    def unpin(self, *, actor: str, reason: str) -> Pointer:
        return self._set_pinned(False, actor=actor, reason=reason)

    def _set_pinned(self, pinned: bool, *, actor: str, reason: str) -> Pointer:
        action = PointerAction.PIN if pinned else PointerAction.UNPIN

        def change(current: Pointer | None) -> Pointer:
            if current is None:
                raise NotFoundError("no active version yet: nothing to pin")
            return current.model_copy(
                update={
                    "pinned": pinned,
                    "action": action,
                    "actor": actor,
                    "reason": reason,
                    "at": utcnow(),
                }
            )

        return self._move(change, respect_pin=False)

    def _previous_version(self) -> str:
        history = self.pointer_history()
        if not history:
            raise NotFoundError("no active version yet: nothing to roll back")
        current = history[-1].version
        for entry in reversed(history):
            if entry.version != current:
                return entry.version
        raise NotFoundError(f"{current} is the only version ever served: nothing to roll back to")

    def _move(
        self, make: Callable[[Pointer | None], Pointer], *, respect_pin: bool = True
    ) -> Pointer:
        while True:
            snapshot = self._pointer.read_or_none()
            current = None if snapshot is None else Pointer.model_validate(snapshot.document)
            if respect_pin:
                self._refuse_if_pinned(current)
            new = make(current)
            try:
                if current is None:
                    written = self._pointer.create(new.model_dump(mode="json"))
                else:
                    written = self._pointer.write(new.model_dump(mode="json"), current.revision)
            except ConflictError:
                continue  # someone else moved it: decide again on the newer pointer
            pointer = Pointer.model_validate(written.document)
            self._materialize(pointer)
            try:
                self.poll()
            except Exception:  # the move landed; a subscriber's trouble is not the mover's
                log.exception("notifying subscribers of %s failed", pointer.version)
            return pointer

    def refuse_if_pinned(self) -> None:
        """PinnedError if the pointer is pinned (a cheap early check before work)."""
        self._refuse_if_pinned(self.pointer())

    @staticmethod
    def _refuse_if_pinned(current: Pointer | None) -> None:
        if current is not None and current.pinned:
            raise PinnedError(
                f"the active pointer is pinned at {current.version} by {current.actor}"
                f" ({current.reason or 'no reason given'}); unpin it first"
            )

    def _materialize(self, pointer: Pointer) -> None:
        self.store.put(ACTIVE_KEY, self.store.get(pointer.snapshot).data)

    # -- start-up repair and subscribers -----------------------------------------

    def repair(self) -> list[str]:
        """Bring derived files back in line after a crash; return what was fixed."""
        fixed: list[str] = []
        for doc in (self._staging, self._pointer):
            snapshot = doc.read_or_none()
            if snapshot is not None and snapshot.revision not in doc.history(snapshot.revision):
                doc.ensure_recorded(snapshot.document)
                fixed.append(f"recorded {doc.key} revision {snapshot.revision} in history")
        pointer = self.pointer()
        if pointer is not None:
            expected = self.store.get(pointer.snapshot).data
            stored = self.store.get_or_none(ACTIVE_KEY)
            if stored is None or stored.data != expected:
                self.store.put(ACTIVE_KEY, expected)
                fixed.append(f"rewrote {ACTIVE_KEY} from the state of {pointer.version}")
        return fixed

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback`` with the new active state each time the pointer moves."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def poll(self) -> bool:
        """Notify subscribers if the pointer changed since the last poll."""
        etag = self.store.etag(POINTER_KEY)
        with self._lock:
            if etag is None or etag == self._seen_pointer_etag:
                return False
            self._seen_pointer_etag = etag
            subscribers = list(self._subscribers)
        active = self.read_active()
        if active is None:
            return False
        for callback in subscribers:
            try:
                callback(active)
            except Exception:  # one bad subscriber must not starve the others
                log.exception("state subscriber %r failed", callback)
        return True

    def watch(self, interval: float = 0.25) -> PointerWatcher:
        """Start a thread that polls for pointer moves made by other processes."""
        watcher = PointerWatcher(self, interval)
        watcher.start()
        return watcher


class PointerWatcher:
    def __init__(self, manager: StateManager, interval: float) -> None:
        self._manager = manager
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ratchet-pointer-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._manager.poll()
            except Exception:
                log.exception("polling the active pointer failed; retrying")
            self._stop.wait(self._interval)
