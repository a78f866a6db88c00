"""``/rollouts`` and a release's rollout in ``/versions/{v}``, in-process on a real home."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ratchet.rollouts.delivery import conclude
from ratchet.rollouts.model import Decision, Outcome, Rollout
from ratchet.rollouts.store import RolloutStore
from ratchet.state import StateManager, open_state_manager
from services.versions.cli import versions_app
from tests.helpers.processes import home_env, running
from tests.helpers.rollouts import delivered
from tests.services.versions.browser import ensure_chromium, headless
from tests.services.versions.conftest import Home, client_for
from tests.services.versions.test_page import Dom

FIRST_WEIGHT = 0.1
ANALYSIS = {"feedback": {"canary": 40, "stable": 380}, "correction_rate": {"canary": 0.3}}


def release(manager: StateManager, rollouts: RolloutStore, version: str) -> None:
    delivered(manager, rollouts, version, first_weight=FIRST_WEIGHT)


def analysed(current: list[Rollout]) -> list[Rollout]:
    """What the controller records after an analysis that continues."""
    live = next(r for r in current if r.status.live)
    live.latest = Decision(
        outcome=Outcome.CONTINUE,
        step=0,
        weight=FIRST_WEIGHT,
        actor="analysis",
        reasons=["40 of 100 feedbacks"],
        analysis=ANALYSIS,
    )
    return current


def make_rollouts(home: Home) -> None:
    """Rollout 1 (v1.0.1) aborted by a person after an analysis; rollout 2 (v0.2.1) live,
    analysed once."""
    manager = open_state_manager(home.settings)
    rollouts = RolloutStore(manager.store)
    manager.unpin(actor="human", reason="rollouts may move it")
    release(manager, rollouts, "v1.0.1")
    rollouts.update(analysed)
    release(manager, rollouts, "v0.2.1")  # queued behind rollout 1
    abort = Decision(outcome=Outcome.ABORT, step=0, weight=0.0, actor="human", reasons=["worse"])
    conclude(manager, rollouts, abort, first_weight=FIRST_WEIGHT)
    rollouts.update(analysed)


def with_rollouts(home: Home) -> TestClient:
    make_rollouts(home)
    return client_for(home)


def test_no_rollouts_yet_is_an_empty_list(client: TestClient) -> None:
    answer = client.get("/rollouts")
    assert answer.status_code == 200
    assert answer.json() == {"rollouts": [], "total": 0, "live": None}
    assert client.get("/rollouts/1").status_code == 404


def test_rollouts_are_listed_newest_first_with_verdict_and_latest_analysis(home: Home) -> None:
    client = with_rollouts(home)
    answer = client.get("/rollouts")
    assert answer.status_code == 200
    body = answer.json()
    assert (body["total"], body["live"]) == (2, "2")
    live, aborted = body["rollouts"]
    assert (live["id"], live["status"], live["canary"], live["stable"]) == (
        "2",
        "running",
        "v0.2.1",
        "v1.0.0",
    )
    assert (live["weight"], live["step"], live["verdict"]) == (FIRST_WEIGHT, 0, None)
    assert live["latest"]["reasons"] == ["40 of 100 feedbacks"]
    assert live["started_at"] and live["ended_at"] is None
    assert (aborted["status"], aborted["weight"], aborted["canary"]) == ("aborted", 0.0, "v1.0.1")
    assert aborted["verdict"]["outcome"] == "abort" and aborted["verdict"]["reasons"] == ["worse"]
    assert aborted["latest"]["analysis"] == ANALYSIS and aborted["ended_at"]
    again = client.get("/rollouts", headers={"If-None-Match": answer.headers["etag"]})
    assert again.status_code == 304
    assert [r["id"] for r in client.get("/rollouts?limit=1").json()["rollouts"]] == ["2"]


def test_one_rollout_in_full_with_every_decision(home: Home) -> None:
    client = with_rollouts(home)
    answer = client.get("/rollouts/1")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["canary_release"]["version"] == "v1.0.1"
    assert body["stable_release"]["version"] == "v1.0.0" and body["applied"] is True
    assert [(d["outcome"], d["actor"], d["reasons"]) for d in body["decisions"]] == [
        ("abort", "human", ["worse"])
    ]


def test_unknown_and_malformed_rollout_ids(home: Home) -> None:
    client = with_rollouts(home)
    missing = client.get("/rollouts/7")
    assert missing.status_code == 404 and "no rollout 7" in missing.json()["detail"]
    for bad in ("0", "x", "-1", "1.5"):
        answer = client.get(f"/rollouts/{bad}")
        assert answer.status_code == 400, bad
        assert "positive integer" in answer.json()["detail"]
    assert client.get("/rollouts?limit=0").status_code == 400


def test_a_release_shows_its_rollout_and_verdict(home: Home) -> None:
    client = with_rollouts(home)
    rollout = client.get("/versions/v1.0.1").json()["rollout"]
    assert (rollout["id"], rollout["status"]) == ("1", "aborted")
    assert rollout["verdict"]["outcome"] == "abort"
    live = client.get("/versions/v0.2.1").json()["rollout"]
    assert (live["status"], live["weight"], live["verdict"]) == ("running", FIRST_WEIGHT, None)
    assert client.get("/versions/v1.0.0").json()["rollout"] is None  # served at once
    shown = CliRunner().invoke(
        versions_app, ["show", "v1.0.1"], env=home_env(home.settings.home_path)
    )
    assert shown.exit_code == 0, shown.output
    assert "rollout" in shown.stdout and "1 aborted (abort by human: worse)" in shown.stdout


def test_the_schema_names_the_rollout_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert paths["/rollouts"]["get"]["tags"] == ["rollouts"]
    assert set(paths["/rollouts/{rollout_id}"]["get"]["responses"]) >= {"200", "400", "404"}


@pytest.mark.slow
def test_the_page_shows_the_live_rollout_and_each_release_s_rollout(home: Home) -> None:
    make_rollouts(home)
    chromium = ensure_chromium()
    env = home_env(home.settings.home_path, RATCHET_VERSIONS_PORT="0")
    with running("services.versions", env) as versions:
        dom = Dom(headless(chromium, f"{versions.url}/#v1.0.1", "--dump-dom").stdout)
    assert dom.find("html", data_state="ready")
    assert dom.find("section", id="rollout", data_live="2")
    words = dom.words
    assert "canary v0.2.1 beside stable v1.0.0 weight 10% step 1" in words
    assert "Latest analysis: continue" in words and "40 of 100 feedbacks" in words
    assert "correction_rate.canary 0.3" in words and "feedback.stable 380" in words
    assert "canary v0.2.1 at 10%" in words  # the status bar
    assert dom.find("span", class_="rollout", data_rollout="aborted")  # v1.0.1, in the timeline
    assert "rollout aborted" in words and "rollout running" in words  # the timeline
    assert "rollout 1 · abort by human: worse" in words  # the release's details
