"""Trained artifacts that are pure functions of their inputs, cached across homes.

A model trained from the same code, data and settings is the same bytes
wherever it is trained; paying for it once per machine (not once per home,
replica, CI tier or test) is what keeps a new Runner's start and a candidate's
unit tests quick. Keys are content hashes, so a cache is never stale; writes
are once, so concurrent trainers cannot tear an entry. The fleet's own object
store comes first (it is what replicas share); the machine cache
(``RATCHET_EMBEDDING_CACHE``, default ``~/.cache/ratchet/embeddings``) second.

The machine cache may be a search path (``first:second``): the first
directory is written, the others only read. A sandboxed candidate gets its
own cache first and the machine's, mounted read-only, after it: it loads
what the fleet trained and can never plant an artifact the fleet would load.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from filelock import FileLock

from ratchet.errors import ConflictError
from ratchet.objects.base import ObjectStore
from ratchet.objects.filesystem import FilesystemObjectStore

CACHE_ENV = "RATCHET_EMBEDDING_CACHE"


def machine_cache_roots() -> list[Path]:
    """The cache's directories: the first is written, the others are only read."""
    configured = [Path(p) for p in os.environ.get(CACHE_ENV, "").split(os.pathsep) if p]
    return configured or [Path.home() / ".cache" / "ratchet" / "embeddings"]


def machine_cache_root() -> Path:
    """The machine-wide, content-addressed cache shared by the fleet and CI tiers."""
    return machine_cache_roots()[0]


def machine_cache() -> ObjectStore:
    return FilesystemObjectStore(machine_cache_root())


class Artifacts:
    """Get-or-make over the fleet's store and the machine cache (both written once)."""

    def __init__(self, store: ObjectStore, cache: ObjectStore | None = None) -> None:
        shared = cache if cache is not None else machine_cache()
        self.stores = [store] if repr(shared) == repr(store) else [store, shared]
        # Read-only layers of the machine cache (a sandbox's view of the machine's).
        self.readonly: list[ObjectStore] = []
        if cache is None:
            self.readonly = [FilesystemObjectStore(p) for p in machine_cache_roots()[1:]]

    def get(self, key: str) -> bytes | None:
        for index, store in enumerate([*self.stores, *self.readonly]):
            found = store.get_or_none(key)
            if found is not None:
                for earlier in self.stores[:index]:  # warm the writable stores before it
                    self.put(earlier, key, found.data)
                return found.data
        return None

    def training(self) -> FileLock:
        """Held while training: processes starting together train once, the rest load."""
        root = machine_cache_root()
        root.mkdir(parents=True, exist_ok=True)
        return FileLock(str(root / ".training.lock"))

    def put_all(self, key: str, data: bytes) -> None:
        for store in self.stores:
            self.put(store, key, data)

    @staticmethod
    def put(store: ObjectStore, key: str, data: bytes) -> None:
        with contextlib.suppress(ConflictError):  # another process cached it first
            store.put_once(key, data)
