"""A throwaway worktree per job, always removed afterwards."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from git import GitCommandError

from ratchet.sandbox import volume as volumes
from ratchet.vcs.repo import open_repo


@contextlib.contextmanager
def job_worktree(workspace: Path, ref: str, *, parent: Path | None = None) -> Iterator[Path]:
    """Check ``ref`` out (detached) in a fresh directory; remove it on exit, even on error."""
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="ratchet-job-", dir=parent))
    path.rmdir()  # git wants to create it
    with open_repo(workspace) as repo:
        repo.git.worktree("add", "--detach", str(path), ref)
    try:
        yield path
    finally:
        remove_worktree(workspace, path)


def remove_worktree(workspace: Path, path: Path) -> None:
    """Remove the worktree, and the sandbox volume its candidate's processes wrote."""
    volumes.release(path)
    with open_repo(workspace) as repo:
        with contextlib.suppress(GitCommandError):
            repo.git.worktree("remove", "--force", str(path))
        shutil.rmtree(path, ignore_errors=True)
        repo.git.worktree("prune")
