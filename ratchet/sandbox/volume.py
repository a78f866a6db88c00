"""A candidate's scratch volume: the one place its processes may write.

Every process of one candidate (its unit tests, the agent worker, its Runner
and Tuner, a template's ``prepare``) shares one volume, keyed by the
candidate's tree, so what one trains the next loads: the cache layer of
trained artifacts lives here (``cache/``), in front of the machine's cache,
which the sandbox mounts read-only (a candidate can read what the fleet
trained, never plant an artifact the fleet would load). The volume outlives
a tier and is removed with the candidate's worktree (:func:`release`), or by
:func:`sweep` a day after its last use when a harness was killed.

Its size is held by :func:`disk_watch`: the harness measures the whole
volume every quarter second while a sandboxed process runs and kills the
process past the quota (a volume is small: a few model caches and a
throwaway home), and each file is also capped by ``RLIMIT_FSIZE``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ratchet.sandbox.watch import Watch

PREFIX = "ratchet-volume-"
STALE_S = 24 * 3600
POLL_S = 0.25
SUBDIRS = ("cache", "home", "tmp", "work")


def root() -> Path:
    return Path(tempfile.gettempdir())


def path_for(code_root: Path) -> Path:
    """The volume of the candidate whose tree is ``code_root`` (short: Unix socket paths
    inside it must stay under 108 bytes)."""
    key = hashlib.sha256(str(code_root.resolve()).encode()).hexdigest()[:16]
    return root() / f"{PREFIX}{key}"


def ensure(code_root: Path) -> Path:
    """The volume of ``code_root``, created (private to this user) on first use."""
    volume = path_for(code_root)
    volume.mkdir(mode=0o700, exist_ok=True)
    for sub in SUBDIRS:
        (volume / sub).mkdir(exist_ok=True)
    os.utime(volume)  # its last use, for the sweep
    return volume


def release(code_root: Path) -> None:
    """Remove ``code_root``'s volume (its worktree is gone)."""
    shutil.rmtree(path_for(code_root), ignore_errors=True)


def sweep(now: float | None = None) -> int:
    """Remove volumes unused for a day (their harness was killed); how many."""
    cutoff = (time.time() if now is None else now) - STALE_S
    removed = 0
    for path in root().glob(f"{PREFIX}*"):
        with contextlib.suppress(OSError):
            if path.is_dir() and path.stat().st_mtime < cutoff:
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
    return removed


ENTRY_BYTES = 4096  # what an entry costs at least: its inode (empty files are not free)


def usage(path: Path) -> int:
    """Bytes allocated under ``path`` (blocks, so sparse files count as written; each
    entry at least :data:`ENTRY_BYTES`, so a million empty files count as 4 GB)."""
    total = 0
    stack = [path]
    while stack:
        with contextlib.suppress(OSError), os.scandir(stack.pop()) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(Path(entry.path))
                        total += ENTRY_BYTES
                    else:
                        blocks = entry.stat(follow_symlinks=False).st_blocks * 512
                        total += max(blocks, ENTRY_BYTES)
    return total


def disk_watch(paths: Sequence[Path], limit_mb: int, on_full: Callable[[], None]) -> Watch:
    """Calls ``on_full`` once if ``paths`` together grow past ``limit_mb`` while it runs."""
    limit = limit_mb * 1024 * 1024
    return Watch("sandbox-disk", lambda: sum(usage(p) for p in paths) > limit, on_full, POLL_S)
