"""Opening the workspace repository without leaking git processes.

GitPython keeps ``git cat-file --batch`` processes alive per ``Repo`` object;
in a long-running service each forgotten ``Repo`` is a leaked child process.
Every use goes through :func:`open_repo`, which closes them on exit.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

from git import InvalidGitRepositoryError, NoSuchPathError, Repo

from ratchet.errors import NotFoundError

BOT_NAME = "Ratchet"
BOT_EMAIL = "ratchet@localhost"


@contextlib.contextmanager
def open_repo(path: Path) -> Iterator[Repo]:
    try:
        repo = Repo(path)
    except (InvalidGitRepositoryError, NoSuchPathError):
        raise NotFoundError(f"{path} is not a git repository") from None
    try:
        yield repo
    finally:
        repo.close()


def restore_to_head(path: Path) -> list[str]:
    """Undo what a releaser killed mid-release left in the workspace; return what was fixed.

    Only call it holding the release lock: every writer of the main worktree
    takes that lock, so git lock files found then are stale, and uncommitted
    changes are a half-made release (a release is never partly committed:
    the commit and tag happen after the files are written and staged).
    """
    fixed: list[str] = []
    git_dir = path / ".git"
    with open_repo(path) as repo:
        branch = None if repo.head.is_detached else repo.active_branch.name
        stale = [git_dir / "index.lock", git_dir / "HEAD.lock", *git_dir.glob("refs/tags/*.lock")]
        if branch is not None:
            stale.append(git_dir / "refs" / "heads" / f"{branch}.lock")
        for lock in stale:
            if lock.exists():
                lock.unlink()
                fixed.append(f"removed stale {lock.relative_to(path)}")
        if repo.git.status("--porcelain"):
            repo.git.reset("--hard", "--quiet", "HEAD")
            repo.git.clean("-fdq")
            fixed.append("discarded uncommitted changes of an interrupted release")
    return fixed


_RELEASE_MESSAGE = re.compile(r"^v\d+\.\d+\.\d+: ")


def discard_untagged_releases(path: Path) -> list[str]:
    """Reset the branch past release commits a killed releaser never tagged.

    A release commits, then tags (:meth:`ReleaseStore.release`); a kill in
    between leaves a bot commit with a release message and no tag on top of
    the branch. It was never released, so it must not ride along in the next
    release: the branch goes back to the newest tagged commit below it. Call
    it holding the release lock; anything else on top is left alone.
    """
    with open_repo(path) as repo:
        if repo.head.is_detached or not repo.head.is_valid():
            return []
        tagged = {tag.commit.hexsha for tag in repo.tags}
        dropped = []
        commit = repo.head.commit
        while (
            commit.hexsha not in tagged
            and commit.author.email == BOT_EMAIL
            and _RELEASE_MESSAGE.match(str(commit.message))
            and commit.parents
        ):
            dropped.append(commit)
            commit = commit.parents[0]
        if not dropped or commit.hexsha not in tagged:
            return []
        repo.git.reset("--hard", "--quiet", commit.hexsha)
    return [
        f"discarded the untagged release commit {c.hexsha[:12]} ({str(c.message).splitlines()[0]})"
        for c in dropped
    ]


def is_repository(path: Path) -> bool:
    try:
        with open_repo(path):
            return True
    except NotFoundError:
        return False
