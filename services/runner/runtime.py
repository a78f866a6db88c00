"""What a Runner process serves with, and how a new active state replaces it.

The served router, version and revision form one immutable :class:`Served`
value behind a single attribute: a call reads it once and finishes on it even
if a swap happens meanwhile; the swap itself is one reference assignment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ratchet.audit import AuditLog
from ratchet.errors import NotFoundError
from ratchet.objects import ObjectStore
from ratchet.sessions import SessionStore
from ratchet.state import ActiveState, PointerWatcher, StateManager

from .agent.build import RouterFactory
from .agent.router import IntentRouter
from .settings import RunnerSettings

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, slots=True)
class Served:
    router: IntentRouter
    version: str
    revision: int
    commit: str | None


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
        self.factory = RouterFactory(store, project_root)
        self.sessions = SessionStore(settings.data_path / "sessions.sqlite3")
        self.audit = AuditLog(settings.data_path / "audit.sqlite3")
        self.swaps = 0
        active = manager.read_active()
        if active is None:
            raise NotFoundError(
                f"{settings.home_path} has no active version; run `ratchet init` first"
            )
        self.served = self._build(active)
        self._watcher: PointerWatcher | None = None
        manager.subscribe(self._on_active)

    def _build(self, active: ActiveState) -> Served:
        return Served(
            router=self.factory.build(active.document.data),
            version=active.version,
            revision=active.revision,
            commit=active.pointer.commit,
        )

    def _on_active(self, active: ActiveState) -> None:
        if (active.version, active.revision) == (self.served.version, self.served.revision):
            return
        if not self.admits(active.pointer.commit):
            return
        try:
            served = self._build(active)
        except Exception:
            # Keep answering with what works; the release gates should have
            # caught this, and the audit trail shows which version kept serving.
            log.exception("cannot serve %s; still serving %s", active.version, self.served.version)
            return
        self.served = served  # the swap: one reference assignment
        self.swaps += 1
        log.info("now serving %s (state revision %d)", served.version, served.revision)

    def start(self) -> None:
        self.manager.poll()  # mark the current pointer as seen
        self._watcher = self.manager.watch(self.settings.poll_interval)

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
        self.sessions.close()
        self.audit.close()
