"""Object store on a local directory: one file per key, crash-safe writes.

Writes hold an exclusive ``flock`` on their key's lock while they compare and
replace, which makes compare-and-swap correct across processes on one machine.
Readers take no lock: a rename is atomic, so they see a whole old or new file.
Keys share :data:`LOCK_STRIPES` lock files (by a hash of the key): a lock file
per key would leave one behind for every key ever written, and telemetry alone
writes a new key every few seconds for ever.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from ratchet.atomic import atomic_write_bytes, create_exclusive
from ratchet.errors import ConflictError, NotFoundError
from ratchet.objects.base import ObjectStore, StoredObject, etag_of, validate_key

_LOCKS = ".locks"
LOCK_STRIPES = 256
"""Lock files at most; two keys that share one only wait for each other's write
(no method takes a second key's lock while it holds one)."""


class FilesystemObjectStore(ObjectStore):
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"FilesystemObjectStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root / validate_key(key)

    @contextlib.contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        lock_dir = self.root / _LOCKS
        lock_dir.mkdir(exist_ok=True)
        digest = hashlib.sha1(key.encode(), usedforsecurity=False).digest()
        name = f"{int.from_bytes(digest[:4]) % LOCK_STRIPES:03d}"
        fd = os.open(lock_dir / name, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock, also when the process dies

    def get(self, key: str) -> StoredObject:
        try:
            data = self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFoundError(f"no object {key!r}") from None
        return StoredObject(key=key, data=data, etag=etag_of(data))

    def etag(self, key: str) -> str | None:
        try:
            return etag_of(self._path(key).read_bytes())
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def put(
        self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False
    ) -> str:
        path = self._path(key)
        if if_none_match and if_match is None:
            # Creation needs no lock: a hard link either creates the name or fails.
            if not create_exclusive(path, data):
                raise ConflictError(f"{key} already exists")
            return etag_of(data)
        with self._locked(key):
            if if_match is not None or if_none_match:
                current = self.etag(key)
                if if_none_match and current is not None:
                    raise ConflictError(f"{key} already exists")
                if if_match is not None and current != if_match:
                    raise ConflictError(f"{key} changed: expected ETag {if_match}, found {current}")
            atomic_write_bytes(path, data)
        return etag_of(data)

    def list(self, prefix: str = "") -> list[str]:
        keys: list[str] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            base = Path(dirpath).relative_to(self.root)
            for name in filenames:
                if name.startswith("."):
                    continue
                key = (base / name).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def delete(self, key: str) -> None:
        with self._locked(key), contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()
