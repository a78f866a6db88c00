"""Watching which files are opened, by any process: Linux inotify on the files themselves.

For the test that nothing reads a held-out split outside the full tier. It
watches real opens, not code: a watch is on the file's inode, so an open by
any process is seen, whichever path it used, the test's own, a service's, an
agent worker's, a child of bubblewrap that sees the file through a bind mount.

Why inotify: it needs no privilege and no package (ctypes on libc), and it is
in every Linux kernel the suite runs on. fanotify would also name the process,
but it wants CAP_SYS_ADMIN for that; strace needs a package and sees only the
processes it traces (not a service started before it). What inotify does not
see: content read from elsewhere, e.g. a git object of the project's history
(``ratchet init`` stores the vault that way; the sandbox hides a candidate's
repository, see ``tests/redteam``), or a copy made before the watch began.
It does not say who opened a file either: a failing test names the file and
the phase it was opened in, and strace on that phase finds the reader.

Events are queued by the kernel when the open happens, so :meth:`FileWatch.drain`
at a point of the test sees exactly the opens made before it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import struct
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

IN_ACCESS, IN_OPEN = 0x1, 0x20
IN_MOVE_SELF, IN_DELETE_SELF = 0x800, 0x400
IN_Q_OVERFLOW, IN_IGNORED = 0x4000, 0x8000
IN_NONBLOCK, IN_CLOEXEC = os.O_NONBLOCK, os.O_CLOEXEC
_LOST = IN_MOVE_SELF | IN_DELETE_SELF | IN_IGNORED  # the watched inode is no longer the path's
_EVENT = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len (then the name)

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


class WatchLost(RuntimeError):
    """A watched file was moved, deleted or replaced, or the kernel's queue overflowed:
    what the watch says from then on would be incomplete."""


@dataclass(frozen=True)
class Access:
    path: Path
    kind: str  # "open" or "read"

    def __str__(self) -> str:
        return f"{self.kind} {self.path}"


class FileWatch:
    """Opens and reads of ``paths`` (files that exist) from now until :meth:`close`."""

    def __init__(self, paths: Iterable[Path]) -> None:
        self.paths = sorted({Path(p).resolve() for p in paths})
        if not self.paths:
            raise ValueError("nothing to watch: no paths given")
        fd = _libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        self._fd = fd
        self._by_wd: dict[int, Path] = {}
        self._inodes = {path: path.stat().st_ino for path in self.paths}
        self.seen: list[Access] = []  # every access drained so far, in order
        try:
            for path in self.paths:
                wd = _libc.inotify_add_watch(fd, os.fsencode(path), IN_OPEN | IN_ACCESS | _LOST)
                if wd < 0:
                    raise OSError(ctypes.get_errno(), f"inotify_add_watch failed on {path}")
                self._by_wd[wd] = path
        except BaseException:
            os.close(fd)
            raise

    def drain(self) -> list[Access]:
        """The accesses since the last drain (consecutive repeats of one are one event)."""
        found: list[Access] = []
        while True:
            try:
                buffer = os.read(self._fd, 64 * 1024)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                raise
            found.extend(self._parse(buffer))
        for path, inode in self._inodes.items():
            if path.stat().st_ino != inode:
                raise WatchLost(f"{path} was replaced while watched (inode {inode})")
        self.seen.extend(found)
        return found

    def _parse(self, buffer: bytes) -> Iterator[Access]:
        offset = 0
        while offset < len(buffer):
            wd, mask, _, length = _EVENT.unpack_from(buffer, offset)
            offset += _EVENT.size + length
            if mask & IN_Q_OVERFLOW:
                raise WatchLost("the inotify queue overflowed: some accesses were not seen")
            path = self._by_wd.get(wd)
            if mask & _LOST:
                raise WatchLost(f"{path} was moved or deleted while watched")
            if path is not None and mask & IN_OPEN:
                yield Access(path, "open")
            if path is not None and mask & IN_ACCESS:
                yield Access(path, "read")

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


@contextmanager
def watching(paths: Iterable[Path]) -> Iterator[FileWatch]:
    """A :class:`FileWatch` of ``paths`` for the block."""
    watch = FileWatch(paths)
    try:
        yield watch
    finally:
        watch.close()


def heldout_files(home: Path, project: Path) -> list[Path]:
    """Every held-out split a process on this machine could read for ``home``: the
    vault's (``<home>/heldout/*/test.csv``) and those of the project checkout it was
    made from (``tasks/*/test.csv``); an error if the vault holds none (nothing to see)."""
    vault = sorted((home / "heldout").glob("*/test.csv"))
    if not vault:
        raise FileNotFoundError(f"{home / 'heldout'} holds no held-out split to watch")
    return vault + sorted((project / "tasks").glob("*/test.csv"))
