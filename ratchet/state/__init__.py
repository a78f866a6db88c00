"""State Manager: staging and active state documents, the active pointer."""

from __future__ import annotations

from ratchet.config import CommonSettings
from ratchet.objects import open_object_store
from ratchet.state.document import ACTIVE_KEY, STAGING_KEY, StateDocument
from ratchet.state.manager import ActiveState, PointerWatcher, StateManager
from ratchet.state.migrations import MigrationRegistry
from ratchet.state.pointer import Canary, Pointer, PointerAction

__all__ = [
    "ACTIVE_KEY",
    "STAGING_KEY",
    "ActiveState",
    "Canary",
    "MigrationRegistry",
    "Pointer",
    "PointerAction",
    "PointerWatcher",
    "StateDocument",
    "StateManager",
    "open_state_manager",
]


def open_state_manager(
    settings: CommonSettings, *, migrations: MigrationRegistry | None = None
) -> StateManager:
    """The State Manager on the configured backend.

    The filesystem backend is rooted at the workspace's ``state/`` folder, so
    ``active.state.json`` there is the file each release commits.
    """
    store = open_object_store(
        settings, namespace="state", local_root=settings.workspace_path / "state"
    )
    if migrations is None:
        migrations = MigrationRegistry.from_directory(
            settings.workspace_path / "state" / "migrations"
        )
    return StateManager(store, migrations=migrations)
