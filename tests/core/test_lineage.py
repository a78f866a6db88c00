"""A release's tag names the feedback it learned from, bounded, and old tags still parse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ratchet.vcs import (
    MAX_EVENTS,
    FeedbackEvent,
    LearnedFrom,
    ReleaseKind,
    ReleaseMetadata,
    ReleaseStore,
    ensure_workspace,
    learned_from,
)
from tests.conftest import git


@pytest.fixture
def releases(tmp_path: Path, source_repo: Path) -> ReleaseStore:
    workspace = tmp_path / "workspace"
    ensure_workspace(workspace, source_repo)
    return ReleaseStore(workspace, tmp_path / "locks" / "release.lock")


def events(count: int) -> list[FeedbackEvent]:
    return [FeedbackEvent(conversation_id=f"c-{i % 7}", turn=i + 1) for i in range(count)]


def test_the_first_events_are_named_and_all_are_counted() -> None:
    small = learned_from("tuner_feedback", events(3))
    assert (small.total, len(small.events), small.truncated) == (3, 3, False)
    big = learned_from("tuner_feedback", events(MAX_EVENTS + 40))
    assert (big.total, len(big.events), big.truncated) == (MAX_EVENTS + 40, MAX_EVENTS, True)
    assert big.events[0].turn == 1 and big.events[-1].turn == MAX_EVENTS
    assert big.conversations() == [f"c-{i}" for i in range(7)]  # each once, in order


def test_a_tag_carries_what_the_release_learned_from(releases: ReleaseStore) -> None:
    lineage = learned_from(
        "tuner_feedback",
        [FeedbackEvent(conversation_id="c-1", turn=2, trace_id="ab" * 16, feedback_id=5)],
    )
    metadata = ReleaseMetadata.model_validate(
        {"kind": ReleaseKind.PATCH, "author": "tuner", "learned_from": lineage}
    )
    releases.release(metadata, message="tuned", allow_empty=True)
    (release,) = releases.releases()
    assert release.metadata.learned_from == lineage
    stored = release.metadata.learned_from
    assert stored is not None and stored.events[0].model_extra == {"feedback_id": 5}


def test_a_tag_without_lineage_still_parses(releases: ReleaseStore) -> None:
    old = {"kind": "patch", "author": "tuner", "reason": "before lineage", "created_at": "x"}
    git(releases.workspace, "-c", "user.name=t", "-c", "user.email=t@t", "tag", "-a", "v0.1.0",
        "-m", json.dumps(old))  # fmt: skip
    (release,) = releases.releases()
    assert release.metadata.learned_from is None and release.metadata.reason == "before lineage"


def test_a_lineage_written_by_a_newer_release_keeps_its_unknown_fields() -> None:
    raw = {"source": "elsewhere", "total": 1, "events": [{"conversation_id": "c"}], "more": 1}
    parsed = LearnedFrom.model_validate(raw)
    assert parsed.model_dump(exclude_none=True)["more"] == 1 and parsed.events[0].turn is None
