"""Commit-scoped builds: a release's files, checked out once per commit.

On one machine a build is a directory ``builds/{commit}`` holding the
commit's tree (``git archive``), created under a temporary name and renamed
into place, so a half-extracted build is never used. Where a Docker engine
exists the same commit becomes an image ``ratchet:{commit}``; that path
belongs to the container set-up, not here.

A build never holds a held-out split (``tasks/*/test.csv``): a candidate's
code runs beside it. A workspace made today has none to extract; one made
before the held-out vault still does, and this keeps it out of every build.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import shutil
import tarfile
import tempfile
from pathlib import Path

from git import GitCommandError

from ratchet.errors import NotFoundError
from ratchet.vcs import open_repo
from ratchet.vcs.workspace import WITHHELD

_COMPLETE = ".ratchet-build-complete"


class BuildStore:
    def __init__(self, workspace: Path, root: Path) -> None:
        self.workspace = workspace
        self.root = root

    def code_key(self, commit: str, paths: tuple[str, ...]) -> str:
        """Identity of the code under ``paths`` at ``commit`` (git tree hashes).

        Two commits with the same key run the same code: a state-only patch
        release keeps the key, so the serving code need not be replaced.
        """
        digest = hashlib.sha256()
        with open_repo(self.workspace) as repo:
            for path in paths:
                try:
                    tree = repo.git.rev_parse(f"{commit}:{path}")
                except GitCommandError:
                    tree = "missing"
                digest.update(f"{path}={tree}\n".encode())
        return digest.hexdigest()[:16]

    def ensure(self, commit: str) -> Path:
        """The build directory of ``commit``, extracting it first if needed."""
        with open_repo(self.workspace) as repo:
            try:
                full = str(repo.git.rev_parse("--verify", f"{commit}^{{commit}}"))
            except GitCommandError:
                raise NotFoundError(f"no commit {commit} in the workspace") from None
            target = self.root / full
            if (target / _COMPLETE).exists():
                _drop_withheld(target)
                return target
            archive = repo.git.archive(
                full, "--", ".", f":(exclude,glob){WITHHELD}", format="tar", stdout_as_string=False
            )
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{full[:12]}-", dir=self.root))
        try:
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(staging, filter="data")
            (staging / _COMPLETE).write_text(full + "\n")
            try:
                staging.rename(target)
            except OSError:
                if not (target / _COMPLETE).exists():  # not a concurrent builder's success
                    raise
        finally:
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(staging)
        return target


def _drop_withheld(build: Path) -> None:
    """Remove held-out splits a build extracted before they were withheld."""
    for path in build.glob(WITHHELD):
        path.unlink(missing_ok=True)
