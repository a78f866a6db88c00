"""Releases: annotated tags ``vX.Y.Z`` on the workspace whose message is JSON.

Git is the canonical version store. A release is created under a file lock
shared by every process on the machine, plus a Postgres advisory lock shared by
every machine when ``RATCHET_DATABASE_URL`` is set (:mod:`ratchet.db.locks`), so
two releasers never compute the same next version; an existing tag is a
conflict, never an overwrite. Versions are numbered from one home's tags: two
homes allocate versions apart (see the README's limits), and the releasing home
is the one whose workspace holds the active release.

A store given ``publish`` calls it with each release's commit before the tag
(:meth:`ratchet.builds.BuildStore.publish`: the build other machines serve),
so no tag, and no pointer, names a commit whose build was not published.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock
from git import GitCommandError, Repo
from pydantic import BaseModel, ConfigDict, ValidationError

from ratchet.db.locks import RELEASE_LOCK, cluster_lock
from ratchet.errors import ConflictError, NotFoundError, PolicyError
from ratchet.policy import FileChange, check_change
from ratchet.state.document import utcnow
from ratchet.tasks.task import ACTIVE_FILE
from ratchet.vcs.lineage import LearnedFrom
from ratchet.vcs.repo import discard_untagged_releases, open_repo, restore_to_head
from ratchet.vcs.semver import ReleaseKind, Version, next_version

log = logging.getLogger(__name__)

_FIELD = "%00"
_RECORD = "%1e"  # ASCII record separator: tag messages may hold newlines


class ReleaseMetadata(BaseModel):
    """The JSON carried in a release tag's message."""

    model_config = ConfigDict(extra="allow")

    kind: ReleaseKind
    author: str  # tuner | architect | human
    parent: str | None = None
    state_hash: str | None = None
    tool_schema_hash: str | None = None
    eval_key: str | None = None
    trace_id: str | None = None
    reason: str = ""
    created_at: str = ""
    learned_from: LearnedFrom | None = None  # the feedback it was made from (ratchet.vcs.lineage)
    task: str | None = None  # the task the release serves (its tree's tasks/active.json)


@dataclass(frozen=True, slots=True)
class Release:
    version: str
    commit: str
    metadata: ReleaseMetadata
    tagged_at: str

    @property
    def kind(self) -> ReleaseKind:
        return self.metadata.kind


@dataclass(frozen=True, slots=True)
class InvalidTag:
    """A tag that looks like a release but is not one (flagged, never listed)."""

    name: str
    reason: str


@dataclass(slots=True)
class TagScan:
    releases: list[Release] = field(default_factory=list)  # newest first
    invalid: list[InvalidTag] = field(default_factory=list)


class ReleaseStore:
    def __init__(
        self,
        workspace: Path,
        lock_path: Path,
        *,
        lock_timeout: float = 600,
        publish: Callable[[str], object] | None = None,
        database_url: str | None = None,
    ) -> None:
        self.workspace = workspace
        self.publish = publish  # a release's commit to the machines that lack it (or None)
        self._lock = FileLock(str(lock_path), timeout=lock_timeout)
        self._lock_timeout = lock_timeout
        self._database_url = database_url  # shared by several machines: lock there too
        self._held = 0  # re-entries of the lock (only its holder touches it)
        lock_path.parent.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def lock(self) -> Iterator[None]:
        """The release lock: one release at a time per workspace across processes, and
        across machines sharing ``RATCHET_DATABASE_URL`` (re-entrant)."""
        with self._lock:
            if self._held or self._database_url is None:
                self._held += 1
                try:
                    yield
                finally:
                    self._held -= 1
                return
            with cluster_lock(self._database_url, RELEASE_LOCK, self._lock_timeout):
                self._held += 1
                try:
                    yield
                finally:
                    self._held -= 1

    @contextmanager
    def begin(self) -> Iterator[None]:
        """The release lock, with the workspace back at HEAD: write the release's files inside.

        A releaser killed mid-release leaves git lock files or staged changes
        behind, which would otherwise wedge the next release or leak into it,
        or a release commit it never tagged, which would otherwise ship
        inside the next release without having been released itself.
        """
        with self.lock():
            for fix in [
                *restore_to_head(self.workspace),
                *discard_untagged_releases(self.workspace),
            ]:
                log.warning("workspace repaired: %s", fix)
            yield

    def scan(self) -> TagScan:
        """Every ``v*`` tag, parsed in one git call; bad ones flagged."""
        fmt = (
            _FIELD.join(
                [
                    "%(refname:short)",
                    "%(objecttype)",
                    "%(*objectname)",
                    "%(creatordate:iso-strict)",
                    "%(contents)",
                ]
            )
            + _RECORD
        )
        with open_repo(self.workspace) as repo:
            out = repo.git.for_each_ref("refs/tags/v*", format=fmt)
        scan = TagScan()
        for record in out.split("\x1e"):
            record = record.strip("\n")
            if not record:
                continue
            name, objtype, commit, date, message = record.split("\x00", 4)
            problem = _check_tag(name, objtype)
            metadata = None
            if problem is None:
                metadata, problem = _parse_metadata(message)
            if problem is not None or metadata is None:
                scan.invalid.append(InvalidTag(name, problem or "unparsable"))
                continue
            scan.releases.append(Release(name, commit, metadata, date))
        scan.releases.sort(key=lambda r: Version.parse(r.version), reverse=True)
        return scan

    def releases(self) -> list[Release]:
        return self.scan().releases

    def latest(self) -> Release | None:
        releases = self.releases()
        return releases[0] if releases else None

    def get(self, version: str) -> Release:
        Version.parse(version)
        for release in self.releases():
            if release.version == version:
                return release
        raise NotFoundError(f"no release {version}")

    def next_version(self, kind: ReleaseKind) -> str:
        latest = self.latest()
        return str(next_version(None if latest is None else Version.parse(latest.version), kind))

    def release(
        self,
        metadata: ReleaseMetadata,
        *,
        message: str,
        paths: Sequence[str] = (),
        version: str | None = None,
        allow_empty: bool = False,
        before_tag: Callable[[str], dict[str, Any] | None] | None = None,
    ) -> Release:
        """Commit ``paths`` (relative to the workspace) and tag the next version.

        Takes the release lock itself; callers that must read-then-release
        atomically hold :meth:`lock` around both (the lock is re-entrant).
        The path policy and its content rails are checked on what is staged
        (``metadata.authorised`` lists what the feedback authorised).
        ``before_tag(commit)`` runs between commit and tag: what must exist
        before a tag names the commit (an eval summary) is written there; it
        may return metadata fields that need the commit (e.g. ``eval_key``).
        """
        with self.lock():
            tag, metadata = self._next_tag(metadata, version)
            with open_repo(self.workspace) as repo:
                if tag in {t.name for t in repo.tags}:
                    raise ConflictError(f"tag {tag} already exists; a release is never overwritten")
                commit = _commit_staged(repo, paths, metadata, f"{tag}: {message}", allow_empty)
                if metadata.task is None:
                    metadata = metadata.model_copy(update={"task": _task_at(repo, commit)})
                if self.publish is not None:
                    self.publish(commit)
                if before_tag is not None:
                    extra = before_tag(commit)
                    if extra:
                        metadata = metadata.model_copy(update=extra)
                _tag(repo, tag, metadata, commit)
            return Release(tag, commit, metadata, utcnow())

    def _next_tag(
        self, metadata: ReleaseMetadata, version: str | None
    ) -> tuple[str, ReleaseMetadata]:
        """The tag to create (``version``, else the next of ``metadata.kind``) and the
        metadata with its parent (the latest release) and creation time filled in."""
        latest = self.latest()
        tag = version or str(
            next_version(None if latest is None else Version.parse(latest.version), metadata.kind)
        )
        Version.parse(tag)
        return tag, metadata.model_copy(
            update={
                "parent": metadata.parent or (latest.version if latest else None),
                "created_at": metadata.created_at or utcnow(),
            }
        )


def _commit_staged(
    repo: Repo,
    paths: Sequence[str],
    metadata: ReleaseMetadata,
    message: str,
    allow_empty: bool,
) -> str:
    """Stage ``paths``, check what is staged against the path policy (unstaged again if
    it fails), commit it (or nothing, unless ``allow_empty``): the commit to tag."""
    if paths:
        repo.git.add("--", *paths)
    staged = [p for p in repo.git.diff("--cached", "--name-only").splitlines() if p]
    try:
        authorised = (metadata.model_extra or {}).get("authorised") or ()
        check_change(metadata.author, staged_changes(repo, staged), authorised=authorised)
    except PolicyError:
        repo.git.reset("--quiet", "HEAD", "--", *staged)  # release nothing
        raise
    if staged or allow_empty:
        repo.git.commit("--allow-empty", "-m", message)
    return repo.head.commit.hexsha


def _tag(repo: Repo, tag: str, metadata: ReleaseMetadata, commit: str) -> None:
    """The annotated tag ``tag`` on ``commit``, its message the metadata as JSON."""
    body = json.dumps(metadata.model_dump(mode="json", exclude_none=False), sort_keys=True)
    try:
        repo.git.tag("-a", tag, "-m", body, commit)
    except GitCommandError as exc:
        if "already exists" in str(exc):
            raise ConflictError(f"tag {tag} already exists") from None
        raise


def staged_changes(repo: Repo, paths: Sequence[str]) -> list[FileChange]:
    """Each staged path with its contents at HEAD and in the index (None: absent)."""
    return [FileChange(p, _blob(repo, f"HEAD:{p}"), _blob(repo, f":{p}")) for p in paths]


def _blob(repo: Repo, spec: str) -> bytes | None:
    try:
        data: bytes = repo.git.show(spec, stdout_as_string=False)
    except GitCommandError:
        return None
    return data


def _check_tag(name: str, objtype: str) -> str | None:
    if not Version.is_valid(name):
        return "name is not vMAJOR.MINOR.PATCH"
    if objtype != "tag":
        return "lightweight tag: a release is an annotated tag with JSON metadata"
    return None


def _parse_metadata(message: str) -> tuple[ReleaseMetadata | None, str | None]:
    body = message.split("-----BEGIN", 1)[0].strip()  # drop a signature block
    try:
        raw: Any = json.loads(body)
        return ReleaseMetadata.model_validate(raw), None
    except (json.JSONDecodeError, ValidationError) as exc:
        return None, f"tag message is not release metadata: {str(exc).splitlines()[0]}"


def _task_at(repo: Repo, commit: str) -> str | None:
    """The task the tree of ``commit`` serves, if it names one."""
    try:
        raw = repo.git.show(f"{commit}:{ACTIVE_FILE.as_posix()}")
    except GitCommandError:
        return None
    name = json.loads(raw).get("task")
    return name if isinstance(name, str) else None
