"""Lineage queries: which releases learned from a conversation, what a release learned from."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ratchet.bootstrap import release_store
from ratchet.vcs import FeedbackEvent, ReleaseKind, ReleaseMetadata, learned_from
from services.versions.cli import learned_from_summary
from services.versions.models import Links
from tests.services.versions.conftest import Home, client_for

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def tag(home: Home, author: str, source: str, events: list[FeedbackEvent]) -> str:
    """A release whose tag names ``events`` as what it learned from; its version."""
    kind = ReleaseKind.PATCH if author == "tuner" else ReleaseKind.MINOR
    metadata = ReleaseMetadata.model_validate(
        {"kind": kind, "author": author, "learned_from": learned_from(source, events)}
    )
    release = release_store(home.settings).release(metadata, message=source, allow_empty=True)
    return release.version


@pytest.fixture
def lineage_client(home: Home) -> TestClient:
    """The fixture history plus three releases that name the feedback they learned from."""
    tag(
        home,
        "tuner",
        "tuner_feedback",
        [
            FeedbackEvent(conversation_id="c-1", turn=1, trace_id=TRACE, feedback_id=1),
            FeedbackEvent(conversation_id="c-2", turn=4, trace_id=None, feedback_id=2),
        ],
    )  # v1.0.2
    tag(home, "tuner", "tuner_feedback", [FeedbackEvent(conversation_id="c-2", turn=5)])  # v1.0.3
    tag(home, "architect", "architect_job", [FeedbackEvent(conversation_id="c-1", turn=1)])
    return client_for(home)  # v1.1.0 above


def test_the_releases_that_learned_from_a_conversation(lineage_client: TestClient) -> None:
    def learned(query: str) -> list[str]:
        response = lineage_client.get(f"/versions?{query}")
        assert response.status_code == 200, response.text
        return [item["version"] for item in response.json()["versions"]]

    assert learned("learned_from=c-1") == ["v1.1.0", "v1.0.2"]
    assert learned("learned_from=c-2") == ["v1.0.3", "v1.0.2"]
    assert learned("learned_from=c-1&author=tuner") == ["v1.0.2"]
    assert learned("learned_from=c-2&limit=1&cursor=v1.0.3") == ["v1.0.2"]
    assert learned("learned_from=nobody") == []  # nothing learned from it yet: an empty page
    assert lineage_client.get("/versions?learned_from=c-2&limit=1").json()["total"] == 2


def test_what_a_release_learned_from(lineage_client: TestClient) -> None:
    body = lineage_client.get("/versions/v1.0.2/learned-from").json()
    assert body["version"] == "v1.0.2" and body["parent"] == "v1.0.1"
    assert (body["source"], body["total"], body["truncated"]) == ("tuner_feedback", 2, False)
    assert body["conversations"] == ["c-1", "c-2"]
    assert body["events"][0] == {
        "conversation_id": "c-1",
        "turn": 1,
        "trace_id": TRACE,
        "feedback_id": 1,
    }
    detail = lineage_client.get("/versions/v1.0.2").json()
    assert (
        "learned_from" not in detail["metadata"]
    )  # in brief under links, in full at /learned-from
    assert (detail["links"]["learned_from"], detail["links"]["conversations"]) == (
        2,
        ["c-1", "c-2"],
    )
    assert lineage_client.get("/versions/v1.0.1").json()["links"]["learned_from"] is None


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/versions/v0.1.0/learned-from", 404, "v0.1.0 names no feedback it learned from"),
        ("/versions/v3.0.0/learned-from", 404, "no release v3.0.0"),
        ("/versions/v1.x/learned-from", 400, "vMAJOR.MINOR.PATCH"),
        ("/versions?learned_from=not%20an%20id", 400, "learned_from"),
        (f"/versions?learned_from={'c' * 129}", 400, "learned_from"),
    ],
)
def test_bad_lineage_queries_say_why(
    lineage_client: TestClient, path: str, status: int, words: str
) -> None:
    response = lineage_client.get(path)
    assert response.status_code == status
    assert words in response.json()["detail"]


def test_the_command_line_names_what_a_release_learned_from() -> None:
    many = Links(learned_from=9, conversations=[f"c-{i}" for i in range(7)])
    assert learned_from_summary(many) == "9 feedback events: c-0, c-1, c-2, c-3, c-4, …"
    assert learned_from_summary(Links(learned_from=0)) == "0 feedback events"
    assert learned_from_summary(Links()) is None  # a release that names none: no row
