"""``ratchet rollout status|promote|abort`` in-process, on a home's real state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleet.cli.main import app
from ratchet.config import CommonSettings
from ratchet.rollouts.model import Decision, Outcome, Rollout, RolloutStatus
from ratchet.rollouts.store import RolloutStore
from ratchet.state import StateManager, open_state_manager
from tests.helpers.rollouts import delivered

runner = CliRunner()


class Home:
    def __init__(self, root: Path) -> None:
        self.env = {"RATCHET_HOME": str(root)}
        self.manager: StateManager = open_state_manager(CommonSettings(home=root))
        self.rollouts = RolloutStore(self.manager.store)

    def release(self, version: str) -> None:
        delivered(self.manager, self.rollouts, version)


@pytest.fixture
def home(tmp_path: Path) -> Home:
    made = Home(tmp_path / "home")
    made.release("v0.1.0")  # the first release is served at once
    return made


def analysed(current: list[Rollout]) -> list[Rollout]:
    live = next(r for r in current if r.status.live)
    live.latest = Decision(
        outcome=Outcome.CONTINUE,
        step=0,
        weight=0.1,
        actor="analysis",
        reasons=["12 of 100 feedbacks"],
        analysis={"correction_rate": {"canary": 0.25, "stable": 0.125}},
    )
    return current


def test_status_shows_the_live_rollout_and_its_latest_analysis(home: Home) -> None:
    assert "no rollout is live" in runner.invoke(app, ["rollout", "status"], env=home.env).stdout
    home.release("v0.2.0")
    home.rollouts.update(analysed)
    shown = runner.invoke(app, ["rollout", "status"], env=home.env, terminal_width=200)
    assert shown.exit_code == 0, shown.output
    words = " ".join(shown.stdout.split())
    assert "rollout 1 running: canary v0.2.0 beside stable v0.1.0, weight 0.1, step 1" in words
    assert "latest analysis: continue by analysis" in words and "12 of 100 feedbacks" in words
    assert "correction_rate.canary 0.25" in words
    as_json = json.loads(runner.invoke(app, ["rollout", "status", "--json"], env=home.env).stdout)
    assert as_json["live"]["id"] == "1" and as_json["live"]["weight"] == 0.1
    assert [r["canary"]["version"] for r in as_json["rollouts"]] == ["v0.2.0"]


def test_promote_and_abort_end_the_live_rollout_and_start_the_next(home: Home) -> None:
    home.release("v0.2.0")
    home.release("v0.3.0")  # queued behind rollout 1
    promoted = runner.invoke(app, ["rollout", "promote", "--reason", "looks good"], env=home.env)
    assert promoted.exit_code == 0, promoted.output
    assert "rollout 1 (v0.2.0) promoted: v0.2.0 serves every conversation" in promoted.stdout
    assert "rollout 2 started: canary v0.3.0 at weight 0.1" in promoted.stdout
    pointer = home.manager.pointer()
    assert pointer is not None and pointer.version == "v0.2.0"
    assert home.rollouts.get("1").verdict.reasons == ["looks good"]  # type: ignore[union-attr]

    aborted = runner.invoke(app, ["rollout", "abort"], env=home.env)
    assert aborted.exit_code == 0, aborted.output
    assert "rollout 2 (v0.3.0) aborted: v0.2.0 serves every conversation" in aborted.stdout
    ended = home.rollouts.get("2")
    assert ended.status == RolloutStatus.ABORTED and ended.verdict is not None
    assert (ended.verdict.actor, ended.verdict.reasons) == ("human", ["aborted by hand"])
    pointer = home.manager.pointer()
    assert pointer is not None and (pointer.version, pointer.canary) == ("v0.2.0", None)


@pytest.mark.parametrize("command", ["promote", "abort"])
def test_promote_or_abort_with_no_live_rollout_fails_with_the_reason(
    home: Home, command: str
) -> None:
    result = runner.invoke(app, ["rollout", command], env=home.env)
    assert result.exit_code == 1
    assert f"no rollout is live: nothing to {command}" in result.stderr
    assert home.rollouts.all() == []


def test_an_uninitialised_home_says_what_to_do(tmp_path: Path) -> None:
    result = runner.invoke(app, ["rollout", "status"], env={"RATCHET_HOME": str(tmp_path)})
    assert result.exit_code == 1 and "ratchet init" in result.stderr
