"""Migration hooks keyed by ``schema_version``.

A release that raises the state schema ships a migration from the old
version; staging and active documents read at an older version pass through
every hook up to the current one. Hooks live as files in the workspace
(``state/migrations/*.py``, each defining ``FROM_VERSION`` and ``migrate``)
so the Architect can ship them with a release; CI runs them before any
release that carries them.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ratchet.errors import ConfigError, CorruptDocumentError

Migration = Callable[[dict[str, Any]], dict[str, Any]]


class MigrationRegistry:
    def __init__(self) -> None:
        self._hooks: dict[int, Migration] = {}

    def register(self, from_version: int, hook: Migration) -> None:
        if from_version in self._hooks:
            raise ConfigError(f"two migrations from schema_version {from_version}")
        self._hooks[from_version] = hook

    @property
    def current_version(self) -> int:
        """The schema version a document reaches after every hook (1 with none)."""
        version = 1
        while version in self._hooks:
            version += 1
        return version

    def upgrade(self, schema_version: int, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Run hooks from ``schema_version`` up; return the new version and data."""
        target = self.current_version
        if schema_version > target:
            raise CorruptDocumentError(
                f"state schema_version {schema_version} is newer than this code knows "
                f"({target}); serve a newer release"
            )
        while schema_version < target:
            data = self._hooks[schema_version](dict(data))
            schema_version += 1
        return schema_version, data

    @classmethod
    def from_directory(cls, directory: Path) -> MigrationRegistry:
        """Load ``*.py`` hooks from a workspace directory (missing directory: none)."""
        registry = cls()
        if not directory.is_dir():
            return registry
        for path in sorted(directory.glob("*.py")):
            if path.name.startswith("_"):
                continue
            spec = importlib.util.spec_from_file_location(f"ratchet_migration_{path.stem}", path)
            if spec is None or spec.loader is None:
                raise ConfigError(f"cannot load migration {path}")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            from_version = getattr(module, "FROM_VERSION", None)
            hook = getattr(module, "migrate", None)
            if not isinstance(from_version, int) or not callable(hook):
                raise ConfigError(f"{path} must define FROM_VERSION: int and migrate(data)")
            registry.register(from_version, hook)
        return registry
