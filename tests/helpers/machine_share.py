"""A readers-writer lock over files, for tests that must have the machine to themselves.

Every test under xdist holds the lock shared; a test marked ``alone`` holds it
exclusively, so nothing on another worker runs beside it. A turnstile makes the
exclusive side win: once an ``alone`` test waits, other workers' next tests wait
behind it instead of overlapping forever (``flock`` itself is not fair).
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def _flock(path: Path, mode: int) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, mode)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def shared(root: Path) -> Iterator[None]:
    """Run beside other shared holders; wait while an exclusive holder waits or runs."""
    with _flock(root / "turnstile.lock", fcntl.LOCK_EX):
        pass  # passing through: blocked only while an `alone` test holds the turnstile
    with _flock(root / "machine.lock", fcntl.LOCK_SH):
        yield


@contextmanager
def exclusive(root: Path) -> Iterator[None]:
    """Run with no shared holder: take the turnstile, then wait for the running tests."""
    with (
        _flock(root / "turnstile.lock", fcntl.LOCK_EX),
        _flock(root / "machine.lock", fcntl.LOCK_EX),
    ):
        yield
