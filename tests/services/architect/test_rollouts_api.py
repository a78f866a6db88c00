"""``/rollouts/live`` and ``POST /rollouts/promote|abort`` in-process, on a real State Manager."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ratchet.rollouts.manual import end_by_hand
from ratchet.rollouts.model import Outcome
from ratchet.rollouts.store import RolloutStore
from services.architect.app import create_app
from services.architect.context import ArchitectContext
from services.architect.jobs import JobKind, JobStatus
from services.architect.settings import ArchitectSettings
from services.architect.worker import Worker
from tests.helpers.rollouts import delivered


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[ArchitectContext]:
    context = ArchitectContext.from_settings(ArchitectSettings(home=tmp_path / "home", port=0))
    release(context, "v0.1.0")  # the first release is served at once
    yield context
    context.close()


@pytest.fixture
def client(ctx: ArchitectContext) -> Iterator[TestClient]:
    app = create_app(ctx.settings, ctx, run_worker=False)
    with TestClient(app) as test_client:
        yield test_client


def release(ctx: ArchitectContext, version: str) -> None:
    delivered(ctx.manager, RolloutStore(ctx.manager.store), version, actor="architect")


@pytest.mark.parametrize("action", ["promote", "abort"])
def test_ending_with_no_live_rollout_is_409_with_the_reason(
    client: TestClient, action: str
) -> None:
    answer = client.post(f"/rollouts/{action}", json={"reason": "why not"})
    assert answer.status_code == 409
    assert answer.json() == {"detail": f"no rollout is live: nothing to {action}"}
    live = client.get("/rollouts/live")
    assert live.status_code == 404 and "no rollout is live" in live.json()["detail"]


def test_the_live_rollout_is_shown_then_promoted(client: TestClient, ctx: ArchitectContext) -> None:
    release(ctx, "v0.2.0")
    live = client.get("/rollouts/live")
    assert live.status_code == 200
    assert (live.json()["id"], live.json()["status"], live.json()["weight"]) == (
        "1",
        "running",
        0.1,
    )
    answer = client.post("/rollouts/promote", json={"reason": "the canary is better"})
    assert answer.status_code == 200, answer.text
    ended = answer.json()
    assert (ended["status"], ended["weight"], ended["canary"]["version"]) == (
        "promoted",
        1.0,
        "v0.2.0",
    )
    assert ended["decisions"][-1]["actor"] == "human"
    assert ended["decisions"][-1]["reasons"] == ["the canary is better"]
    pointer = ctx.manager.pointer()
    assert pointer is not None and (pointer.version, pointer.canary) == ("v0.2.0", None)


def test_abort_keeps_the_stable_version_and_takes_no_body(
    client: TestClient, ctx: ArchitectContext
) -> None:
    release(ctx, "v0.2.0")
    answer = client.post("/rollouts/abort")
    assert answer.status_code == 200, answer.text
    assert (answer.json()["status"], answer.json()["weight"]) == ("aborted", 0.0)
    assert answer.json()["decisions"][-1]["reasons"] == ["aborted by hand"]
    pointer = ctx.manager.pointer()
    assert pointer is not None and (pointer.version, pointer.canary) == ("v0.1.0", None)
    bad = client.post("/rollouts/abort", json={"reason": 3, "extra": 1})
    assert bad.status_code == 400


def test_the_schema_tags_the_rollout_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/rollouts/live", "/rollouts/promote", "/rollouts/abort"):
        operation = next(iter(paths[path].values()))
        assert operation["tags"] == ["rollouts"]
    assert "409" in paths["/rollouts/abort"]["post"]["responses"]


def test_queued_jobs_wait_while_a_release_is_on_its_way_to_traffic(ctx: ArchitectContext) -> None:
    release(ctx, "v0.2.0")  # a live rollout
    job, _ = ctx.jobs.create(JobKind.FEEDBACK, "anything")
    worker = Worker(ctx)
    assert worker.run_pending() == []  # not started: it would start from the canary's commit
    assert ctx.jobs.get(job.id).status == JobStatus.QUEUED
    end_by_hand(ctx.manager, ctx.deliverer.rollouts, Outcome.ABORT, reason="", first_weight=0.1)
    assert worker._rollout_in_flight() is False  # the next look runs it
