"""What a Runner process serves with, and how a new active state replaces it.

A served router, version and revision form one immutable :class:`Served`;
the stable one, and during a rollout the canary with its weight, form one
immutable :class:`Serving` behind a single attribute: a call reads it once and
finishes on it even if a swap happens meanwhile; the swap itself is one
reference assignment.

A canary that runs this process's Runner code is built by this runtime's
factory; one whose release changed the code is built by its own agent code,
loaded from its commit-scoped build (:mod:`.canary`). A canary that cannot be
built is logged and left out: everyone is served by the stable version.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import cast

from ratchet.audit import AuditLog
from ratchet.builds import BuildStore
from ratchet.db.retention import RetentionSweeper
from ratchet.errors import NotFoundError
from ratchet.objects import ObjectStore
from ratchet.rollouts.assignment import takes_canary
from ratchet.sessions import SessionStore
from ratchet.state import ActiveState, PointerWatcher, StateManager
from ratchet.state.pointer import Canary

from .agent.build import RouterFactory
from .agent.router import IntentRouter
from .canary import CanaryCode
from .settings import RunnerSettings

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, slots=True)
class Served:
    router: IntentRouter
    version: str
    revision: int
    commit: str | None
    code: CanaryCode | None = None  # the loaded code the router came from (None: this code)


@dataclass(frozen=True, slots=True)
class Serving:
    """The stable version and, during a rollout, the canary and its share of new
    conversations."""

    stable: Served
    canary: Served | None = None
    weight: float = 0.0

    def for_conversation(self, conversation_id: str, recorded: str | None) -> Served:
        """The side that answers a conversation whose latest turn was answered by
        ``recorded`` (None: a new conversation).

        A conversation stays with the version that answered it while that version is
        served, whatever the weight does (weight 0 stops new conversations reaching
        the canary; those already on it stay until the rollout ends). A new one, or
        one whose version is gone, is placed by the hash of its id.
        """
        canary = self.canary
        if canary is None or recorded == self.stable.version:
            return self.stable
        if recorded == canary.version:
            return canary
        return canary if takes_canary(conversation_id, self.weight) else self.stable


class RunnerRuntime:
    def __init__(
        self,
        settings: RunnerSettings,
        manager: StateManager,
        store: ObjectStore,
        *,
        project_root: Path = PROJECT_ROOT,
        admits: Callable[[str | None], bool] | None = None,
    ) -> None:
        self.settings = settings
        # Whether this code can serve the release at a commit; the host that loaded
        # it says no when a release changes the code (it then loads the new code),
        # so old code never answers under a newer version's name.
        self.admits = admits or (lambda commit: True)
        self.manager = manager
        self.store = store
        self.factory = RouterFactory(store, project_root)
        # Where a canary that changes the code finds its build (as the host's follower).
        self.builds = BuildStore.open(settings)
        self.sessions = SessionStore.open(settings)
        self.audit = AuditLog.open(settings)
        # The audit log gains a row per call: the Runner, its only writer, keeps it bounded.
        self.audit_retention = RetentionSweeper(
            "audit calls", self.audit.prune, settings.audit_retention_days
        )
        self.swaps = 0
        self._codes: dict[str, CanaryCode] = {}  # loaded canary code by commit
        self._refused: set[tuple[str, str, int]] = set()  # canaries that failed to build
        self._lock = threading.Lock()  # the watcher thread and an in-process mover
        active = manager.read_active()
        if active is None:
            raise NotFoundError(
                f"{settings.home_path} has no active version; run `ratchet init` first"
            )
        stable = self._build(active)
        self.serving = Serving(stable, *self._canary_for(active.pointer.canary, None))
        self._watcher: PointerWatcher | None = None
        manager.subscribe(self._on_active)

    @property
    def served(self) -> Served:
        """The stable version (what a call without a rollout is answered by)."""
        return self.serving.stable

    @served.setter
    def served(self, value: Served) -> None:
        self.serving = replace(self.serving, stable=value)

    def _build(self, active: ActiveState) -> Served:
        return Served(
            router=self.factory.build(active.document.data),
            version=active.version,
            revision=active.revision,
            commit=active.pointer.commit,
        )

    def _on_active(self, active: ActiveState) -> None:
        with self._lock:
            current = self.serving
            stable = self._stable_for(active, current)
            canary, weight = self._canary_for(active.pointer.canary, current.canary)
            serving = Serving(stable, canary, weight)
            if serving != current:
                self.serving = serving  # the swap: one reference assignment
            if stable is not current.stable:
                self.swaps += 1
                log.info("now serving %s (state revision %d)", stable.version, stable.revision)
            self._drop_unused_code(serving)

    def _stable_for(self, active: ActiveState, current: Serving) -> Served:
        """The stable side for ``active``: the current one, the promoted canary, or new."""
        stable, canary = current.stable, current.canary
        if (active.version, active.revision) == (stable.version, stable.revision):
            return stable
        if canary is not None and (active.version, active.revision) == (
            canary.version,
            canary.revision,
        ):
            # Promoted: the canary's router (and code) serves everyone, nothing rebuilt;
            # a host whose code differs replaces this app with the new code shortly.
            return canary
        if not self.admits(active.pointer.commit):
            return stable
        try:
            return self._build(active)
        except Exception:
            # Keep answering with what works; the release gates should have
            # caught this, and the audit trail shows which version kept serving.
            log.exception("cannot serve %s; still serving %s", active.version, stable.version)
            return stable

    def _canary_for(
        self, canary: Canary | None, current: Served | None
    ) -> tuple[Served | None, float]:
        """The canary side and its weight (None, 0: no canary, or one that cannot serve)."""
        if canary is None:
            return None, 0.0
        if current is not None and (current.version, current.revision) == (
            canary.version,
            canary.state_revision,
        ):
            return current, canary.weight  # a new weight: nothing to rebuild
        key = (canary.rollout, canary.version, canary.state_revision)
        if key in self._refused:
            return None, 0.0
        try:
            served = self._build_canary(canary)
        except Exception:
            self._refused.add(key)
            log.exception(
                "cannot serve canary %s of rollout %s; everyone is served by the stable version",
                canary.version,
                canary.rollout,
            )
            return None, 0.0
        log.info(
            "serving canary %s to %.0f%% of new conversations", served.version, 100 * canary.weight
        )
        return served, canary.weight

    def _build_canary(self, canary: Canary) -> Served:
        document = self.manager.canary_state(canary)
        code = None
        if canary.commit is None or self.admits(canary.commit):
            router = self.factory.build(document.data)
        else:  # the release changed the Runner's code: its own code answers
            code = self._codes.get(canary.commit)
            if code is None:
                code = self._codes[canary.commit] = CanaryCode(
                    canary.commit, self.builds, self.store
                )
            router = cast(IntentRouter, code.factory.build(document.data))
        return Served(router, canary.version, document.revision, canary.commit, code)

    def _drop_unused_code(self, serving: Serving) -> None:
        """Unload canary code nothing serves any more (its rollout ended or moved on)."""
        used = {s.code for s in (serving.stable, serving.canary) if s is not None}
        for commit, code in list(self._codes.items()):
            if code not in used:
                del self._codes[commit]
                code.close()

    def start(self) -> None:
        self.manager.poll()  # mark the current pointer as seen
        self._watcher = self.manager.watch(self.settings.poll_interval)
        self.audit_retention.start()

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
        self.audit_retention.stop()
        for code in self._codes.values():
            code.close()
        self._codes.clear()
        self.sessions.close()
        self.audit.close()
