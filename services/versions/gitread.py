"""Reading commits of the workspace: changelogs, changed files, a file at a commit.

A commit's content never changes, so every answer here is cached by commit
ids for the life of the process (bounded LRU); the cache is rebuilt from git
by simply asking again.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from git import GitCommandError

from ratchet.vcs import open_repo

from .models import ChangelogEntry, FileChange, FileStatus

CHANGELOG_LIMIT = 50
FILES_LIMIT = 1000

_STATUS: dict[str, FileStatus] = {
    "A": "added",
    "M": "modified",
    "D": "deleted",
    "R": "renamed",
    "C": "copied",
    "T": "type-changed",
}


@lru_cache(maxsize=512)
def changelog(workspace: Path, commit: str, since: str | None) -> tuple[ChangelogEntry, ...]:
    """Commits reachable from ``commit`` and not from ``since``, newest first."""
    span = f"{since}..{commit}" if since else commit
    with open_repo(workspace) as repo:
        out = repo.git.log(
            f"--max-count={CHANGELOG_LIMIT}", "--format=%H%x00%an%x00%aI%x00%s%x1e", span
        )
    entries = []
    for record in out.split("\x1e"):
        record = record.strip("\n")
        if record:
            sha, author, date, subject = record.split("\x00", 3)
            entries.append(ChangelogEntry(commit=sha, author=author, date=date, subject=subject))
    return tuple(entries)


@lru_cache(maxsize=256)
def changed_files(workspace: Path, old: str, new: str) -> tuple[tuple[FileChange, ...], bool]:
    """Files changed from ``old`` to ``new`` with line counts; True if truncated."""
    with open_repo(workspace) as repo:
        status = repo.git.diff("--name-status", "-z", "-M", old, new)
        numstat = repo.git.diff("--numstat", "-z", "-M", old, new)
    counts = _numstat(numstat)
    fields = [f for f in status.split("\x00")]
    changes: list[FileChange] = []
    i = 0
    while i < len(fields) and fields[i]:
        code = fields[i][0]
        if code in "RC":
            old_path, path = fields[i + 1], fields[i + 2]
            i += 3
        else:
            old_path, path = None, fields[i + 1]
            i += 2
        additions, deletions = counts.get(path, (None, None))
        changes.append(
            FileChange(
                status=_STATUS.get(code, "modified"),
                path=path,
                old_path=old_path,
                additions=additions,
                deletions=deletions,
            )
        )
    return tuple(changes[:FILES_LIMIT]), len(changes) > FILES_LIMIT


def _numstat(out: str) -> dict[str, tuple[int | None, int | None]]:
    """``git diff --numstat -z``: ``add\\tdel\\tpath\\0``, or for a rename
    ``add\\tdel\\t\\0old\\0new\\0``; ``-`` counts mean a binary file."""
    counts: dict[str, tuple[int | None, int | None]] = {}
    fields = out.split("\x00")
    i = 0
    while i < len(fields) and fields[i]:
        added, deleted, path = fields[i].split("\t", 2)
        if path == "":  # a rename: the paths follow
            path = fields[i + 2]
            i += 3
        else:
            i += 1
        counts[path] = (
            None if added == "-" else int(added),
            None if deleted == "-" else int(deleted),
        )
    return counts


@lru_cache(maxsize=256)
def json_at(workspace: Path, commit: str, path: str) -> Any:
    """The JSON file ``path`` as committed at ``commit``; None if absent or not JSON."""
    with open_repo(workspace) as repo:
        try:
            raw = repo.git.show(f"{commit}:{path}")
        except GitCommandError:
            return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return None
