"""The registry: every read the Versions API and ``ratchet versions`` make.

Sources of truth are git tags (releases), the State Manager (the active
pointer and its history) and the object store (eval summaries). What this
keeps in memory is a cache of them and can be dropped at any moment:

- the :class:`~.index.ReleaseIndex`, rebuilt with one ``git for-each-ref``
  whenever the tag refs' stamp changes (:mod:`.refs`), so a new tag is listed
  by the next request and a steady state spawns no git process;
- the pointer history, re-read when the pointer's ETag changes;
- eval summaries (write-once) and commit reads (immutable), kept once read.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from ratchet import datasets
from ratchet.bootstrap import release_store
from ratchet.config import CommonSettings
from ratchet.errors import NotFoundError
from ratchet.objects import open_object_store
from ratchet.rollouts.store import RolloutStore
from ratchet.state import Pointer, StateManager, open_state_manager
from ratchet.state.pointer import POINTER_KEY
from ratchet.tasks.heldout import heldout_rows
from ratchet.vcs import LearnedFrom, ReleaseKind, ReleaseStore

from . import diffs, evals, gitread
from .errors import Unavailable
from .index import KNOWN_FIELDS, Page, ReleaseIndex, eval_key, parse_version
from .models import (
    ActiveVersion,
    EvalReport,
    KpiPoint,
    KpiSeries,
    LineageEvent,
    Links,
    PointerHistory,
    PointerMove,
    ReleaseLineage,
    TaskInfo,
    VersionDetail,
    VersionDiff,
    VersionSummary,
)
from .refs import RefsWatcher, git_dir
from .rollouts import of_release
from .settings import VersionsSettings


@dataclass(frozen=True, slots=True)
class _History:
    etag: str | None
    moves: list[Pointer]


@dataclass(frozen=True, slots=True)
class Sources:
    """The stores the registry reads, opened once the workspace exists (opening
    them earlier would create folders in a home that is not initialised, and the
    registry writes nothing)."""

    releases: ReleaseStore
    manager: StateManager
    evals: evals.EvalStore
    watcher: RefsWatcher
    rollouts: RolloutStore


class VersionRegistry:
    def __init__(self, settings: CommonSettings, *, evals_refresh_interval: float = 5.0) -> None:
        self.settings = settings
        self.workspace = settings.workspace_path
        self.evals_refresh_interval = evals_refresh_interval
        self._sources: Sources | None = None
        self._index: ReleaseIndex | None = None
        self._history = _History(None, [])
        self._lock = threading.Lock()
        self.rebuilds = 0  # how many times the index was built (for tests and the bench)

    @classmethod
    def from_settings(cls, settings: VersionsSettings) -> VersionRegistry:
        return cls(settings, evals_refresh_interval=settings.evals_refresh_interval)

    def sources(self) -> Sources:
        """The stores; Unavailable (503) until the workspace repository exists."""
        if self._sources is None:
            directory = git_dir(self.workspace)
            if directory is None:
                raise Unavailable(
                    f"no workspace repository at {self.workspace}; run `ratchet init` first"
                )
            manager = open_state_manager(self.settings)
            self._sources = Sources(
                releases=release_store(self.settings),
                manager=manager,
                evals=evals.EvalStore(
                    open_object_store(self.settings), self.evals_refresh_interval
                ),
                watcher=RefsWatcher(directory),
                rollouts=RolloutStore(manager.store),
            )
        return self._sources

    # -- the release index ----------------------------------------------------------

    def index(self) -> ReleaseIndex:
        """The index for the tags as they are now (rebuilt only if they changed)."""
        sources = self.sources()
        with self._lock:
            stamp = sources.watcher.stamp()
            current = self._index
            if (
                current is not None
                and not current.stamp.racy
                and current.stamp.entries == stamp.entries
            ):
                return current
            index = ReleaseIndex.from_scan(sources.releases.scan(), stamp)
            if current is None or current.stamp.entries != stamp.entries:
                sources.evals.forget_listing()
            self._index = index
            self.rebuilds += 1
            return index

    # -- releases -------------------------------------------------------------------

    def page(
        self,
        *,
        kind: ReleaseKind | None = None,
        author: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
        learned_from: str | None = None,
    ) -> dict[str, Any]:
        """A ``VersionPage`` payload (built from the index's ready summaries); with
        ``learned_from``, only the releases whose tags name that conversation."""
        index = self.index()
        page: Page = index.page(
            kind=kind, author=author, cursor=cursor, limit=limit, learned_from=learned_from
        )
        return {
            "versions": page.items,
            "next": page.next,
            "total": page.total,
            "active": self._active_version(),
            "flagged": index.flagged_list,
        }

    def detail(self, version: str) -> VersionDetail:
        index = self.index()
        release = index.get(version)
        meta = release.metadata
        parent = (
            index.releases[index.by_version[meta.parent]]
            if meta.parent in index.by_version
            else None
        )
        extra = {k: v for k, v in meta.model_dump(mode="json").items() if k not in KNOWN_FIELDS}
        return VersionDetail(
            **index.summary(version),
            tool_schema_hash=meta.tool_schema_hash,
            active=self._active_version() == version,
            children=index.children.get(version, []),
            links=_links(extra, meta.trace_id, meta.learned_from),
            changelog=list(
                gitread.changelog(self.workspace, release.commit, parent.commit if parent else None)
            ),
            metadata=extra,
            sandbox=self.sources().evals.sandbox(eval_key(release)),
            rollout=of_release(self.sources().rollouts, version),
        )

    def lineage(self, version: str) -> ReleaseLineage:
        """What the release learned from, as its tag names it; NotFoundError if it names none."""
        release = self.index().get(version)
        lineage = release.metadata.learned_from
        if lineage is None:
            raise NotFoundError(
                f"{version} names no feedback it learned from: a {release.metadata.author} "
                "release made without feedback, or tagged before releases named their feedback"
            )
        return ReleaseLineage(
            version=version,
            author=release.metadata.author,
            parent=release.metadata.parent,
            source=lineage.source,
            total=lineage.total,
            truncated=lineage.truncated,
            conversations=lineage.conversations(),
            events=[LineageEvent.model_validate(e.model_dump()) for e in lineage.events],
        )

    def diff(self, version: str, against: str | None) -> VersionDiff:
        index = self.index()
        release = index.get(version)
        if against is None:
            if release.metadata.parent is None:
                raise NotFoundError(f"{version} has no parent release; pass against=vX.Y.Z")
            against = release.metadata.parent
        parse_version(against, name="against")
        return diffs.diff_releases(self.workspace, release, index.get(against))

    # -- eval summaries and the chart ----------------------------------------------

    def eval_report(self, version: str) -> EvalReport:
        release = self.index().get(version)
        key = eval_key(release)
        summary = self.sources().evals.summary(key)
        if summary is None:
            raise NotFoundError(
                f"no eval summary for {version} yet: nothing at {key} in the object store "
                "(the full CI tier writes it)"
            )
        return EvalReport(
            version=version,
            commit=release.commit,
            key=key,
            kpis=evals.kpis_of(summary),
            summary=summary,
        )

    def kpi_series(self) -> KpiSeries:
        index = self.index()
        oldest_first = list(reversed(index.releases))
        found = self.sources().evals.summaries([eval_key(r) for r in oldest_first])
        points = []
        for release in oldest_first:
            summary = found.get(eval_key(release))
            if summary is not None:
                points.append(
                    KpiPoint(
                        version=release.version,
                        kind=release.kind,
                        author=release.metadata.author,
                        reason=release.metadata.reason,
                        **evals.kpis_of(summary).model_dump(),
                    )
                )
        pointer = self.sources().manager.pointer()
        budgets, source = evals.budgets_at(self.workspace, pointer.commit if pointer else None)
        return KpiSeries(points=points, budgets=budgets, budgets_source=source, releases=len(index))

    # -- the task -------------------------------------------------------------------

    def task(self) -> TaskInfo:
        """The task the workspace serves; NotFoundError for a home made before tasks."""
        self.sources()  # 503 until the workspace exists
        task = datasets.task(self.workspace)
        return TaskInfo.model_validate(
            {
                **task.summary(),
                "test_rows": heldout_rows(task, self.settings.heldout_path),
                "description": task.manifest.description,
                "label_names": list(task.labels),
            }
        )

    # -- the active pointer ---------------------------------------------------------

    def active(self) -> ActiveVersion:
        pointer = self.sources().manager.pointer()
        if pointer is None:
            raise NotFoundError("no active version yet: run `ratchet init`")
        index = self.index()
        release = None
        if pointer.version in index.by_version:
            release = VersionSummary.model_validate(index.summary(pointer.version))
        return ActiveVersion(
            version=pointer.version,
            commit=pointer.commit,
            state_revision=pointer.state_revision,
            state_hash=pointer.state_hash,
            pinned=pointer.pinned,
            pointer_revision=pointer.revision,
            actor=pointer.actor,
            reason=pointer.reason,
            at=pointer.at,
            release=release,
        )

    def pointer_history(self) -> PointerHistory:
        moves = self._moves()
        return PointerHistory(
            moves=[_move(p) for p in reversed(moves)],
            active=moves[-1].version if moves else None,
            pinned=moves[-1].pinned if moves else False,
        )

    def _moves(self) -> list[Pointer]:
        etag = self.sources().manager.store.etag(POINTER_KEY)
        history = self._history
        if etag is None or etag != history.etag:
            history = self._history = _History(etag, self.sources().manager.pointer_history())
        return history.moves

    def _active_version(self) -> str | None:
        pointer = self.sources().manager.pointer()
        return pointer.version if pointer else None


def _links(extra: dict[str, Any], trace_id: str | None, lineage: LearnedFrom | None) -> Links:
    ids = extra.get("feedback_ids", extra.get("feedback_id"))
    if ids is None:
        ids = []
    elif not isinstance(ids, list):
        ids = [ids]
    job = extra.get("job_id")
    applied = extra.get("feedback_applied")
    return Links(
        job_id=None if job is None else str(job),
        feedback_ids=[str(i) for i in ids],
        feedback_applied=applied
        if isinstance(applied, int) and not isinstance(applied, bool)
        else None,
        trace_id=trace_id,
        learned_from=None if lineage is None else lineage.total,
        conversations=[] if lineage is None else lineage.conversations(),
    )


def _move(pointer: Pointer) -> PointerMove:
    return PointerMove(
        revision=pointer.revision,
        version=pointer.version,
        commit=pointer.commit,
        action=pointer.action.value,
        actor=pointer.actor,
        reason=pointer.reason,
        at=pointer.at,
        pinned=pointer.pinned,
        state_revision=pointer.state_revision,
        state_hash=pointer.state_hash,
    )
