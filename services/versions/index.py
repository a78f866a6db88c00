"""The release index: one immutable view of every release at one state of the tags.

Built from a single :meth:`ratchet.vcs.ReleaseStore.scan` and thrown away when
the tags change, it answers lookups, filters and cursor pages from memory.
Each release's listing entry is dumped through :class:`~.models.VersionSummary`
once, at build time, so a page is a slice of ready dictionaries.

Pages are newest first; the cursor is the last version of the previous page
and the next page holds the releases *older* than it. A release tagged while a
client pages is newer than every cursor, so pages never shift or repeat.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ratchet.errors import NotFoundError
from ratchet.vcs import Release, ReleaseKind, TagScan, Version

from .errors import InvalidRequest
from .models import VersionSummary
from .refs import RefsStamp

# Metadata fields shown in their own places; the rest is the release's "metadata".
KNOWN_FIELDS = frozenset(
    {
        "kind",
        "author",
        "parent",
        "state_hash",
        "tool_schema_hash",
        "eval_key",
        "trace_id",
        "reason",
        "created_at",
        "learned_from",
        "task",
    }
)


def parse_version(text: str, *, name: str = "version") -> Version:
    """The version, or InvalidRequest (400) saying what form is expected."""
    try:
        return Version.parse(text)
    except ValueError as exc:
        raise InvalidRequest(f"{name}: {exc}") from None


def eval_key(release: Release) -> str:
    """Where a release's eval summary lives: its metadata's key, or the convention."""
    return release.metadata.eval_key or f"evals/{release.commit}/summary.json"


def summary_of(release: Release) -> VersionSummary:
    meta = release.metadata
    return VersionSummary(
        version=release.version,
        commit=release.commit,
        kind=meta.kind,
        author=meta.author,
        parent=meta.parent,
        reason=meta.reason,
        created_at=meta.created_at,
        tagged_at=release.tagged_at,
        state_hash=meta.state_hash,
        eval_key=eval_key(release),
        task=meta.task,
    )


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    next: str | None
    total: int


@dataclass(slots=True)
class _View:
    """The positions of the releases one filter keeps, with bisectable keys."""

    positions: list[int]
    keys: list[tuple[int, int, int]]  # negated versions: ascending as the list descends


@dataclass
class ReleaseIndex:
    stamp: RefsStamp
    releases: list[Release]  # newest first
    flagged: dict[str, str]  # tag name -> why it is not a release
    by_version: dict[str, int] = field(init=False)
    summaries: list[dict[str, Any]] = field(init=False)
    children: dict[str, list[str]] = field(init=False)
    learned_by: dict[str, list[int]] = field(init=False)  # conversation -> positions
    _views: dict[tuple[ReleaseKind | None, str | None], _View] = field(
        init=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        self.by_version = {release.version: i for i, release in enumerate(self.releases)}
        self.summaries = [summary_of(r).model_dump(mode="json") for r in self.releases]
        self.children = {}
        self.learned_by = {}
        for position, release in enumerate(self.releases):  # newest first, as pages are
            lineage = release.metadata.learned_from
            for conversation_id in lineage.conversations() if lineage else ():
                self.learned_by.setdefault(conversation_id, []).append(position)
        for release in reversed(self.releases):  # oldest first, so children read in order
            if release.metadata.parent:
                self.children.setdefault(release.metadata.parent, []).append(release.version)

    @classmethod
    def from_scan(cls, scan: TagScan, stamp: RefsStamp) -> ReleaseIndex:
        return cls(stamp, list(scan.releases), {tag.name: tag.reason for tag in scan.invalid})

    def __len__(self) -> int:
        return len(self.releases)

    @property
    def flagged_list(self) -> list[dict[str, str]]:
        return [{"name": name, "reason": why} for name, why in sorted(self.flagged.items())]

    def get(self, version: str) -> Release:
        """The release, InvalidRequest if ``version`` is malformed, NotFoundError if unknown."""
        position = self.by_version.get(version)
        if position is not None:
            return self.releases[position]
        parse_version(version)
        if version in self.flagged:
            raise NotFoundError(
                f"{version} is tagged but is not a release: {self.flagged[version]}"
            )
        newest = f"; the newest is {self.releases[0].version}" if self.releases else ""
        raise NotFoundError(f"no release {version}{newest}")

    def summary(self, version: str) -> dict[str, Any]:
        self.get(version)
        return self.summaries[self.by_version[version]]

    def page(
        self,
        *,
        kind: ReleaseKind | None = None,
        author: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
        learned_from: str | None = None,
    ) -> Page:
        view = self._view(kind, author, learned_from)
        start = 0
        if cursor is not None:
            before = parse_version(cursor, name="cursor")
            start = bisect.bisect_right(view.keys, (-before.major, -before.minor, -before.patch))
        chosen = view.positions[start : start + limit]
        more = start + limit < len(view.positions)
        return Page(
            items=[self.summaries[p] for p in chosen],
            next=self.releases[chosen[-1]].version if chosen and more else None,
            total=len(view.positions),
        )

    def _view(
        self, kind: ReleaseKind | None, author: str | None, learned_from: str | None = None
    ) -> _View:
        if learned_from is not None:  # not cached: one view per conversation would pile up
            candidates = self.learned_by.get(learned_from, [])
            return self._filtered(candidates, kind, author)
        view = self._views.get((kind, author))
        if view is None:  # computing one twice under a race is harmless
            view = self._views[(kind, author)] = self._filtered(
                range(len(self.releases)), kind, author
            )
        return view

    def _filtered(
        self, candidates: Iterable[int], kind: ReleaseKind | None, author: str | None
    ) -> _View:
        positions = [
            i
            for i in candidates
            if (kind is None or self.releases[i].kind == kind)
            and (author is None or self.releases[i].metadata.author == author)
        ]
        keys = []
        for i in positions:
            v = Version.parse(self.releases[i].version)
            keys.append((-v.major, -v.minor, -v.patch))
        return _View(positions, keys)
