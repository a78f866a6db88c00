"""Opening the workspace repository without leaking git processes.

GitPython keeps ``git cat-file --batch`` processes alive per ``Repo`` object;
in a long-running service each forgotten ``Repo`` is a leaked child process.
Every use goes through :func:`open_repo`, which closes them on exit.
"""

from __future__ import annotations

import contextlib
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


def is_repository(path: Path) -> bool:
    try:
        with open_repo(path):
            return True
    except NotFoundError:
        return False
