"""Noticing a new tag without asking git: a stamp of where git keeps tag refs.

Listing tags means a ``git for-each-ref`` process (milliseconds, and more with
many tags); a request should not pay that when nothing changed. Git writes a
ref by renaming a lock file into ``refs/tags/`` (or rewriting ``packed-refs``,
or the reftable's ``tables.list``), so every tag created, moved or deleted
changes the modification time or inode of one of those paths. The stamp is
those few ``stat`` results; a different stamp means "scan again".

File-system clocks are coarse (a few milliseconds on ext4, whole seconds on
some), so a ref written in the same tick as the previous one can leave the
stamp unchanged. As git does for its index ("racy git"), a stamp taken less
than :data:`RACY_WINDOW_NS` after its newest modification is not trusted: the
caller scans again until the stamp has aged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

RACY_WINDOW_NS = 2_000_000_000

Entry = tuple[str, int, int, int]  # path, mtime_ns, inode, size


@dataclass(frozen=True, slots=True)
class RefsStamp:
    entries: tuple[Entry, ...]
    taken_ns: int

    @property
    def racy(self) -> bool:
        """Too recent to prove that no change hides behind an equal mtime."""
        newest = max((entry[1] for entry in self.entries), default=0)
        return self.taken_ns - newest < RACY_WINDOW_NS


def git_dir(workspace: Path) -> Path | None:
    """The repository's common git directory (following a ``.git`` file), or None."""
    dot = workspace / ".git"
    if dot.is_file():
        text = dot.read_text().strip()
        if not text.startswith("gitdir:"):
            return None
        dot = (workspace / text.removeprefix("gitdir:").strip()).resolve()
        common = dot / "commondir"
        if common.is_file():
            dot = (dot / common.read_text().strip()).resolve()
    return dot if dot.is_dir() else None


class RefsWatcher:
    """Stamps the tag refs of one repository: a handful of ``stat`` calls.

    Only ``refs/tags`` itself is watched, not folders below it: release tags
    have no ``/`` and the scan (``refs/tags/v*``) does not descend into them.
    """

    def __init__(self, git_directory: Path) -> None:
        self.paths = (
            git_directory / "refs" / "tags",
            git_directory / "packed-refs",
            git_directory / "reftable" / "tables.list",
        )

    def stamp(self) -> RefsStamp:
        taken = time.time_ns()
        return RefsStamp(tuple(_stat(path) for path in self.paths), taken)


def _stat(path: Path) -> Entry:
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return (str(path), 0, 0, -1)
    return (str(path), st.st_mtime_ns, st.st_ino, st.st_size)
