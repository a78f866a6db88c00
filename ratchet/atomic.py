"""Crash-safe file writes: temp file, fsync, rename, fsync of the directory.

After a kill -9 at any instant the target holds either its old bytes or its
new bytes, never a mix; a leftover ``.tmp`` file is harmless and swept by
:func:`sweep_temp_files`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

_TMP_SUFFIX = ".tmp"


def fsync_dir(directory: Path) -> None:
    """Persist a rename: the directory entry itself must reach the disk."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _durable_temp(path: Path, data: bytes) -> Iterator[Path]:
    """A fully written, fsynced temp file beside ``path``; removed on exit if still there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=_TMP_SUFFIX)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        yield tmp
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably."""
    with _durable_temp(path, data) as tmp:
        tmp.replace(path)
    fsync_dir(path.parent)


def create_exclusive(path: Path, data: bytes) -> bool:
    """Write ``path`` only if it does not exist; return False if it did.

    A hard link of a fully written temp file makes creation atomic, so a
    reader never sees a half-written write-once file.
    """
    with _durable_temp(path, data) as tmp:
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
    fsync_dir(path.parent)
    return True


def sweep_temp_files(directory: Path, min_age_seconds: float = 300.0) -> int:
    """Remove temp files left by writers that died mid-write; return how many.

    Only files older than ``min_age_seconds`` go: a younger one may belong to a
    live writer in another process.
    """
    removed = 0
    if not directory.is_dir():
        return 0
    cutoff = time.time() - min_age_seconds
    for leftover in directory.rglob(f".*{_TMP_SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):
            if leftover.stat().st_mtime <= cutoff:
                leftover.unlink()
                removed += 1
    return removed
