"""The object store model: keyed bytes with ETags and conditional writes.

Both backends give the same guarantees, so everything above them (the State
Manager, eval summaries, telemetry) is written once:

- ``put(..., if_match=etag)`` writes only over exactly that version;
- ``put(..., if_none_match=True)`` writes only if the key does not exist;
- a failed precondition raises :class:`~ratchet.errors.ConflictError`.
"""

from __future__ import annotations

import hashlib
import random
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from ratchet.errors import ConflictError, NotFoundError

_KEY = re.compile(r"^[A-Za-z0-9_\-][A-Za-z0-9_.\-]*(/[A-Za-z0-9_\-][A-Za-z0-9_.\-]*)*$")


def validate_key(key: str) -> str:
    """Reject keys that could escape a root or collide with internal files.

    Segments may not start with a dot, which also rules out ``..`` and keeps
    the filesystem backend's lock and temp files out of the key space.
    """
    if len(key) > 1024 or not _KEY.match(key):
        raise ValueError(f"invalid object key {key!r}: use segments of [A-Za-z0-9_.-] joined by /")
    return key


def etag_of(data: bytes) -> str:
    """The ETag S3 gives a single-part upload: the quoted MD5 of the body."""
    return '"' + hashlib.md5(data, usedforsecurity=False).hexdigest() + '"'


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    data: bytes
    etag: str


class ObjectStore(ABC):
    """Keyed bytes with compare-and-swap writes."""

    @abstractmethod
    def get(self, key: str) -> StoredObject:
        """Return the object or raise NotFoundError."""

    @abstractmethod
    def etag(self, key: str) -> str | None:
        """The current ETag, or None if the key does not exist (cheap change check)."""

    @abstractmethod
    def put(
        self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False
    ) -> str:
        """Write and return the new ETag; ConflictError when a precondition fails."""

    @abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """Keys under ``prefix``, sorted."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the key; absent keys are not an error."""

    def exists(self, key: str) -> bool:
        return self.etag(key) is not None

    def get_or_none(self, key: str) -> StoredObject | None:
        try:
            return self.get(key)
        except NotFoundError:
            return None

    def put_once(self, key: str, data: bytes) -> str:
        """Write-once: create the key, accept an identical rewrite, refuse a different one."""
        try:
            return self.put(key, data, if_none_match=True)
        except ConflictError:
            current = self.get_or_none(key)
            if current is not None and current.data == data:
                return current.etag
            raise ConflictError(
                f"{key} is write-once and already holds different content"
            ) from None

    def update(
        self, key: str, change: Callable[[bytes | None], bytes], *, attempts: int = 1000
    ) -> bytes:
        """Compare-and-swap ``key`` to ``change(current bytes or None)``; return what was written.

        ``change`` runs again on every conflict against the newer bytes, so it
        must be a pure function of what it is given.
        """
        for attempt in range(attempts):
            current = self.get_or_none(key)
            data = change(None if current is None else current.data)
            try:
                if current is None:
                    self.put(key, data, if_none_match=True)
                else:
                    self.put(key, data, if_match=current.etag)
                return data
            except ConflictError:
                time.sleep(random.uniform(0, min(0.05, 0.001 * 2 ** min(attempt, 6))))
        raise ConflictError(f"{key} kept moving: gave up after {attempts} attempts")
