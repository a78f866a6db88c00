"""Commit-scoped builds: a release's files, checked out once per commit.

On one machine a build is a directory ``builds/{commit}`` holding the
commit's tree (``git archive``), created under a temporary name and renamed
into place, so a half-extracted build is never used. Where a Docker engine
exists the same commit becomes an image ``ratchet:{commit}``; that path
belongs to the container set-up, not here.

Across machines (the S3 backend) the releaser also *publishes* each release's
build to the shared object store, write-once by commit, before the tag and
so before the pointer can name it; a home whose workspace lacks the commit (a
Runner or Tuner on another machine) fetches that archive, checks it against
the commit id and extracts it (:mod:`ratchet.build_archive` says why this and
not a shared git remote). Everything else a serving process needs of a
release it did not make is in the shared stores already: the pointer, the
state snapshot it names and the trained artifacts are object-store keys.

A build never holds a held-out split (``tasks/*/test.csv``): a candidate's
code runs beside it. A workspace made today has none to extract; one made
before the held-out vault still does, and this keeps it out of every build.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import re
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

from git import GitCommandError, Repo

from ratchet.build_archive import archive_key, extract, pack, tree_archive, verify
from ratchet.config import Backend, CommonSettings
from ratchet.errors import ConflictError, CorruptDocumentError, NotFoundError
from ratchet.objects import ObjectStore, open_object_store
from ratchet.vcs import open_repo
from ratchet.vcs.workspace import WITHHELD

_COMPLETE = ".ratchet-build-complete"
_TREES = ".ratchet-build-trees.json"  # a fetched build's git ids, where git cannot answer
log = logging.getLogger(__name__)
_FULL_ID = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


class BuildStore:
    def __init__(self, workspace: Path, root: Path, shared: ObjectStore | None = None) -> None:
        self.workspace = workspace
        self.root = root
        self.shared = shared  # where builds are published and fetched (None: this machine's)

    @classmethod
    def open(cls, settings: CommonSettings) -> BuildStore:
        """The home's builds; on the S3 backend, shared with every home through it (a
        filesystem backend is one machine's: its workspace holds every release)."""
        shared = open_object_store(settings) if settings.backend == Backend.S3 else None
        return cls(settings.workspace_path, settings.home_path / "builds", shared)

    def code_key(self, commit: str, paths: tuple[str, ...]) -> str:
        """Identity of the code under ``paths`` at ``commit`` (git tree hashes).

        Two commits with the same key run the same code: a state-only patch
        release keeps the key, so the serving code need not be replaced. A
        commit the workspace lacks is answered from its fetched build's ids.
        """
        if self._resolve(commit) is None:
            trees = self._fetched_trees(commit)
            ids = [trees.get(path.strip("/"), "missing") for path in paths]
        else:
            with open_repo(self.workspace) as repo:
                ids = [_git_id(repo, f"{commit}:{path}") for path in paths]
        digest = hashlib.sha256()
        for path, tree in zip(paths, ids, strict=True):
            digest.update(f"{path}={tree}\n".encode())
        return digest.hexdigest()[:16]

    def ensure(self, commit: str) -> Path:
        """The build directory of ``commit``, extracting it first if needed (from the
        workspace, else from the shared store's published archive)."""
        full = self._resolve(commit)
        if full is None:
            return self._fetch(commit)
        target = self.root / full
        if (target / _COMPLETE).exists():
            _drop_withheld(target)
            return target
        archive = tree_archive(self.workspace, full)
        return self._install(full, lambda staging: _untar(archive, staging))

    def publish(self, commit: str) -> bool:
        """Put ``commit``'s archive in the shared store unless it is there; True if written.

        Write-once by commit: an archive is identified by the commit it proves, not by
        its bytes, so one already there (or written meanwhile by another publisher)
        stands and this is a no-op. Unless it fails its check (truncated, altered,
        another commit's): every home would refuse it for ever, so a home that has the
        commit replaces it, only if it is still the object it checked.
        """
        if self.shared is None:
            return False
        full = self._resolve(commit)
        if full is None:
            raise NotFoundError(f"no commit {commit} in the workspace to publish")
        key = archive_key(full)
        stored = self.shared.get_or_none(key)
        if stored is not None:
            try:
                verify(stored.data, full)
                return False
            except CorruptDocumentError as exc:
                log.warning("%s; replacing it from this workspace", exc)
        data = pack(self.workspace, full)
        try:
            if stored is None:
                self.shared.put(key, data, if_none_match=True)
            else:
                self.shared.put(key, data, if_match=stored.etag)
        except ConflictError:
            return False  # another publisher wrote it first: same commit, same tree
        return True

    def _resolve(self, commit: str) -> str | None:
        """The full id of ``commit`` in the workspace, None if the workspace lacks it (or
        there is none: a serving home needs only the shared stores)."""
        try:
            with open_repo(self.workspace) as repo:
                return str(repo.git.rev_parse("--verify", f"{commit}^{{commit}}"))
        except (GitCommandError, NotFoundError):
            return None

    def _fetch(self, commit: str) -> Path:
        """The build of a commit this workspace lacks, from its published archive."""
        target = self.root / commit
        if _FULL_ID.match(commit) and (target / _COMPLETE).exists():
            return target
        if self.shared is None or not _FULL_ID.match(commit):
            raise NotFoundError(f"no commit {commit} in the workspace")
        stored = self.shared.get_or_none(archive_key(commit))
        if stored is None:
            raise NotFoundError(
                f"no commit {commit} in the workspace, and no build of it in {self.shared}: "
                "the home that released it publishes it (on the S3 backend)"
            )
        ids = verify(stored.data, commit)  # CorruptDocumentError: never extracted

        def write(staging: Path) -> None:
            extract(stored.data, staging)
            (staging / _TREES).write_text(json.dumps(ids, sort_keys=True))

        return self._install(commit, write)

    def _fetched_trees(self, commit: str) -> dict[str, str]:
        trees: dict[str, str] = json.loads((self._fetch(commit) / _TREES).read_text())
        return trees

    def _install(self, full: str, write: Callable[[Path], None]) -> Path:
        """``builds/{full}`` made by ``write`` under a temporary name, renamed into place."""
        target = self.root / full
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{full[:12]}-", dir=self.root))
        try:
            write(staging)
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


def _git_id(repo: Repo, spec: str) -> str:
    try:
        return str(repo.git.rev_parse(spec))
    except GitCommandError:
        return "missing"


def _untar(archive: bytes, target: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")


def _drop_withheld(build: Path) -> None:
    """Remove held-out splits a build extracted before they were withheld."""
    for path in build.glob(WITHHELD):
        path.unlink(missing_ok=True)
