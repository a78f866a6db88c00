"""Progressive delivery with every part a real process: the Runner serving MCP traffic,
the Tuner taking each answer's feedback over MCP, and the rollout controller in the
Architect, all with ``RATCHET_ROLLOUT=progressive``.

A good release (every reply text changed, routing untouched) is promoted and a bad one
(a rule sending every message with "I" to one intent) aborted by the feedback of the
traffic they served; the controller is SIGKILLed mid-rollout and its successor decides
on exactly the feedback the first one would have counted; no conversation is answered
by two versions while a rollout runs, and every answer names the version that made it.

The home's workspace commits shorter steps than the defaults, as a person may change
budgets (25% of new conversations until the canary has 30 feedbacks, then 50% until
it has 50), so the test takes seconds; the analysis (alpha, the always-valid test,
its floors and guardrails) is the default's.
"""

from __future__ import annotations

import copy
import itertools
import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client

from ratchet import datasets
from ratchet.audit import AuditLog
from ratchet.bootstrap import initialize, release_store
from ratchet.config import RolloutMode
from ratchet.promotion import release_state
from ratchet.rollouts.analysis import SideSignals
from ratchet.rollouts.controller import epoch, side_signals
from ratchet.rollouts.delivery import Deliverer
from ratchet.rollouts.model import Rollout, RolloutStatus
from ratchet.rollouts.store import RolloutStore
from ratchet.sessions import SessionStore
from ratchet.state import StateDocument, StateManager, open_state_manager
from ratchet.tasks.task import Example
from ratchet.vcs import ReleaseKind
from ratchet.words import words
from services.runner.settings import RunnerSettings
from tests.conftest import git
from tests.helpers.mcp import call
from tests.helpers.processes import Service, home_env, running, running_all

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

STEPS = [
    {"weight": 0.25, "min_feedback": 30, "max_minutes": 10},
    {"weight": 0.5, "min_feedback": 50, "max_minutes": 10},
]
TURNS, WORKERS = 3, 3  # turns per conversation; conversations driven at once
MARK = " (v2)"  # what the good release appends to every reply text
BAD_WORD, BAD_INTENT = "i", "atm_support"  # in 62% of the messages; rarely their intent
TRAFFIC_TIMEOUT_S = 120.0
COME_BACK = 12  # conversations of the first step driven on after the controller's kill
Counts = tuple[int, int]  # feedbacks on the canary's turns, on stable's


@dataclass(frozen=True)
class Answer:
    """One turn as the client saw it, with the intent the task's data says is right."""

    conversation_id: str
    turn: int
    version: str
    state_revision: int
    rule: str | None
    reply: str | None
    text: str
    truth: str


@dataclass
class Fleet:
    settings: RunnerSettings
    env: dict[str, str]
    runner: Service
    tuner: Service
    rows: Iterator[Example]
    answers: list[Answer] = field(default_factory=list)

    @property
    def manager(self) -> StateManager:
        return open_state_manager(self.settings)

    def rollout(self, rollout_id: str) -> Rollout:
        return RolloutStore(self.manager.store).get(rollout_id)

    def release(self, change: Callable[[dict[str, Any]], None], reason: str) -> str:
        """A state-only release by a person, delivered as this home delivers; its version."""
        manager = self.manager
        active = manager.read_active()
        assert active is not None
        data = copy.deepcopy(active.document.data)
        change(data)
        document = StateDocument(
            revision=active.document.revision + 1, updated_by="human", data=data
        )
        release = release_state(
            manager,
            release_store(self.settings),
            document,
            kind=ReleaseKind.PATCH,
            author="human",
            reason=reason,
            deliverer=Deliverer.of(self.settings, manager),
        )
        return release.version

    async def drive(self, prefix: str, done: Callable[[], bool], at_least: int = 0) -> None:
        """Conversations of TURNS turns by WORKERS clients at once, each answer given its
        true intent as feedback (as clients do: the Tuner's ``feedback`` tool), until
        ``done()``, asked between conversations, and ``at_least`` conversations were begun.
        Ids are ``prefix-0000``, ``prefix-0001``, ...: a second drive with the same prefix
        continues those conversations first."""
        numbers = itertools.count()
        begun = 0

        async def worker() -> None:
            async with (
                Client(f"{self.runner.url}/mcp") as runner,
                Client(f"{self.tuner.url}/mcp") as tuner,
            ):
                nonlocal begun
                while begun < at_least or not done():
                    begun += 1
                    cid = f"{prefix}-{next(numbers):04d}"
                    for _ in range(TURNS):
                        row = next(self.rows)
                        got = await call(runner, "route", text=row.text, conversation_id=cid)
                        self.answers.append(answer_of(got, row))
                        await call(
                            tuner,
                            "feedback",
                            conversation_id=cid,
                            turn=got["turn"],
                            correct_intent=row.intent,
                        )

        with anyio.fail_after(TRAFFIC_TIMEOUT_S):
            async with anyio.create_task_group() as group:
                for _ in range(WORKERS):
                    group.start_soon(worker)

    def signals(self, rollout: Rollout) -> tuple[SideSignals, SideSignals]:
        """Stable's and the canary's signals, read as the controller reads them."""
        assert rollout.stable is not None and rollout.started_at is not None
        sessions = SessionStore.open(self.settings)
        audit = AuditLog.open(self.settings)
        try:
            since = epoch(rollout.started_at)
            return (
                side_signals(sessions, audit, rollout.stable.version, since),
                side_signals(sessions, audit, rollout.canary.version, since),
            )
        finally:
            sessions.close()
            audit.close()


def answer_of(got: dict[str, Any], row: Example) -> Answer:
    return Answer(
        got["conversation_id"],
        got["turn"],
        got["version"],
        got["state_revision"],
        got["rule"],
        got["reply"],
        row.text,
        row.intent,
    )


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not {what} after {timeout} s"
        time.sleep(0.05)


def shorter_steps(workspace: Path) -> None:
    """The rollout steps shortened for time, committed as a person would."""
    path = workspace / "ci" / "budgets.json"
    budgets = json.loads(path.read_text())
    budgets["rollout"]["steps"] = STEPS
    path.write_text(json.dumps(budgets, indent=2) + "\n")
    git(workspace, "add", "ci/budgets.json")
    git(workspace, "-c", "user.name=person", "-c", "user.email=p@x", "commit", "-qm", "steps")


def marked_replies(data: dict[str, Any]) -> None:
    for variants in data["replies"].values():
        for reply in variants:
            reply["text"] += MARK


def bad_rule(data: dict[str, Any]) -> None:
    data["rules"] = [{"id": "bad-rule", "all_of": [BAD_WORD], "intent": BAD_INTENT}, *data["rules"]]


@pytest.fixture
def home(tmp_path: Path, project_checkout: Path) -> RunnerSettings:
    settings = RunnerSettings(
        home=tmp_path / "home",
        project_root=project_checkout,
        port=0,
        rollout=RolloutMode.PROGRESSIVE,
    )
    initialize(settings)
    shorter_steps(settings.workspace_path)
    return settings


def environment(settings: RunnerSettings) -> dict[str, str]:
    return home_env(
        settings.home_path,
        RATCHET_ROLLOUT="progressive",
        RATCHET_RUNNER_PORT="0",
        RATCHET_RUNNER_POLL_INTERVAL="0.05",
        RATCHET_TUNER_PORT="0",
        RATCHET_ARCHITECT_PORT="0",
        RATCHET_ARCHITECT_TRIGGERER="false",
        RATCHET_ARCHITECT_TUNER_URL="",
        RATCHET_ARCHITECT_ROLLOUT_INTERVAL="0.2",
        RATCHET_VERSIONS_PORT="0",
    )


def traffic_rows(settings: RunnerSettings) -> Iterator[Example]:
    rows = list(datasets.load(settings.workspace_path, "train"))
    random.Random(16).shuffle(rows)
    return itertools.cycle(rows)


def answered_by(answers: list[Answer], version: str) -> int:
    return sum(a.version == version for a in answers)


async def test_a_good_release_is_promoted_and_a_bad_one_aborted_by_live_feedback(
    home: RunnerSettings,
) -> None:
    env = environment(home)
    modules = ("services.runner", "services.tuner", "services.versions", "services.architect")
    with running_all(env, *modules) as (runner, tuner, versions, architect):
        fleet = Fleet(home, env, runner, tuner, traffic_rows(home))
        stable = fleet.manager.pointer().version  # type: ignore[union-attr]
        good, killed_at = await killed_mid_rollout(fleet, architect)
        with running("services.architect", env):
            promoted_with_the_same_counts(fleet, good, killed_at)
            bad = fleet.release(bad_rule, f'every message with "{BAD_WORD}" to {BAD_INTENT}')
            # Until the verdict is recorded, not until it is applied: conversations begun
            # in between (a revert release to make, seconds on a loaded machine) would
            # end after the rollout and go unchecked below.
            await fleet.drive("bad", lambda: fleet.rollout("2").status.ended)
            # the abort reverts the bad release on main: a patch served at once
            wait_for(lambda: reverted(home, bad) is not None, f"{bad} reverted")
        aborted = fleet.rollout("2")
        pointer = fleet.manager.pointer()
        assert aborted.status == RolloutStatus.ABORTED, aborted.decisions
        assert aborted.verdict is not None and aborted.verdict.actor == "analysis"
        assert any("correction rate" in reason for reason in aborted.verdict.reasons)
        revert = reverted(home, bad)
        assert pointer is not None and revert is not None
        assert (pointer.version, pointer.canary) == (revert, None)
        assert fleet.manager.pointer_state(pointer).data == fleet.manager.version_state(good).data
        shown = [httpx.get(f"{versions.url}/rollouts/{i}").json() for i in ("1", "2")]
        kept = httpx.get(f"{versions.url}/versions/{bad}")
    assert [(r["status"], r["canary"], r["decisions"][-1]["outcome"]) for r in shown] == [
        ("promoted", good, "promote"),
        ("aborted", bad, "abort"),
    ]
    assert kept.status_code == 200 and kept.json()["rollout"]["status"] == "aborted"
    assert {a.version for a in fleet.answers} == {stable, good, bad}
    first = fleet.rollout("1")
    one_version_per_conversation(fleet, {"good": first, "bad": aborted})
    answers_name_their_version(fleet, good, bad)


async def killed_mid_rollout(fleet: Fleet, architect: Service) -> tuple[str, Counts]:
    """Release the good version, serve traffic until the controller moved its rollout to
    the second step, SIGKILL the controller, and serve traffic without one until the
    canary has the step's feedback; the version and the counts the databases hold."""
    good = fleet.release(marked_replies, "every reply marked")
    await fleet.drive("good", lambda: fleet.rollout("1").step >= 1 or ended("1", fleet))
    architect.process.kill()  # SIGKILL: no shutdown code runs
    architect.process.wait()
    at_kill = fleet.rollout("1")
    assert (at_kill.status, at_kill.step, at_kill.weight) == (RolloutStatus.RUNNING, 1, 0.5)
    assert [d.outcome for d in at_kill.decisions] == ["next_step"]
    canary = fleet.manager.pointer().canary  # type: ignore[union-attr]
    assert canary is not None and (canary.version, canary.weight) == (good, 0.5)
    want = STEPS[1]["min_feedback"]
    # The same conversations come back first (at weight 0.5 now, on the side they began on):
    # at least COME_BACK of them, however far the first drive overshot the step's count.
    await fleet.drive("good", lambda: answered_by(fleet.answers, good) >= want, at_least=COME_BACK)
    stable_signals, canary_signals = fleet.signals(at_kill)
    assert at_kill.stable is not None
    assert canary_signals.feedback == answered_by(fleet.answers, good) >= want
    assert stable_signals.feedback == answered_by(fleet.answers, at_kill.stable.version)
    unchanged = fleet.rollout("1")
    assert (unchanged.status, unchanged.step, unchanged.weight) == (RolloutStatus.RUNNING, 1, 0.5)
    assert unchanged.started_at == at_kill.started_at
    return good, (canary_signals.feedback, stable_signals.feedback)


def promoted_with_the_same_counts(fleet: Fleet, good: str, counts: Counts) -> None:
    """The new controller resumes the rollout at its second step and promotes it on
    exactly the feedback counted before it started: none lost, none counted twice."""
    wait_for(lambda: ended("1", fleet), "promoted by the new controller")
    promoted = fleet.rollout("1")
    verdict = promoted.verdict
    assert promoted.status == RolloutStatus.PROMOTED and verdict is not None
    assert [d.outcome for d in promoted.decisions] == ["next_step", "promote"]
    assert (verdict.step, verdict.weight, verdict.actor) == (1, 0.5, "analysis")
    assert (verdict.analysis["canary_feedback"], verdict.analysis["stable_feedback"]) == counts
    pointer = fleet.manager.pointer()
    assert pointer is not None and (pointer.version, pointer.canary) == (good, None)


def reverted(settings: RunnerSettings, version: str) -> str | None:
    """The release that reverted ``version`` on main, once it serves."""
    for release in release_store(settings).releases():
        if (release.metadata.model_extra or {}).get("reverts") == version:
            pointer = open_state_manager(settings).pointer()
            return release.version if pointer and pointer.version == release.version else None
    return None


def ended(rollout_id: str, fleet: Fleet) -> bool:
    """Whether the rollout ended and the pointer says so (the record is written first)."""
    rollout = fleet.rollout(rollout_id)
    return rollout.status.ended and rollout.applied


Turn = tuple[str, int]


def recorded(
    settings: RunnerSettings,
) -> tuple[dict[Turn, tuple[str, int, float]], dict[Turn, str]]:
    """The Runner's records of each turn: its version, revision and time in the sessions,
    its version in the audit log."""
    sessions, audit = SessionStore.open(settings), AuditLog.open(settings)
    try:
        with sessions.db.read() as tx:
            turns = {
                (cid, turn): (version, revision, at)
                for cid, turn, version, revision, at in tx.all(
                    "SELECT conversation_id, turn, version, state_revision, created_at FROM turns"
                )
            }
        with audit.db.read() as tx:
            audited = {
                (cid, turn): version
                for cid, turn, version in tx.all(
                    "SELECT conversation_id, turn, version FROM calls WHERE tool = 'route'"
                )
            }
    finally:
        sessions.close()
        audit.close()
    return turns, audited


def one_version_per_conversation(fleet: Fleet, phases: dict[str, Rollout]) -> None:
    """Every answer is the Runner's record of its turn and names a side of the rollout
    its conversation ran in (``phases``: by conversation id prefix); a conversation
    whose turns all came before its rollout ended was answered by one version, those
    that went on from the first step into the second included."""
    turns, audited = recorded(fleet.settings)
    by_conversation: dict[str, list[Answer]] = {}
    for a in fleet.answers:
        key = (a.conversation_id, a.turn)
        assert turns[key][:2] == (a.version, a.state_revision) and audited[key] == a.version
        by_conversation.setdefault(a.conversation_id, []).append(a)
    checked = 0
    for cid, answers in by_conversation.items():
        rollout = phases[cid.rsplit("-", 1)[0]]
        assert rollout.stable is not None and rollout.ended_at is not None
        versions = {a.version for a in answers}
        assert versions <= {rollout.stable.version, rollout.canary.version}, (cid, versions)
        if max(turns[(cid, a.turn)][2] for a in answers) < epoch(rollout.ended_at):
            checked += 1
            assert len(versions) == 1, (cid, answers)
    assert checked >= 0.8 * len(by_conversation)
    came_back = sum(len(answers) > TURNS for answers in by_conversation.values())
    assert came_back >= COME_BACK  # conversations that went on after the weight rose


def answers_name_their_version(fleet: Fleet, good: str, bad: str) -> None:
    """What each version's state does shows in the answers naming it: only the good and
    the bad release mark their replies, only the bad one applies its rule."""
    for a in fleet.answers:
        if a.reply is not None:
            assert a.reply.endswith(MARK) == (a.version in (good, bad)), a
        assert (a.rule == "bad-rule") == (a.version == bad and BAD_WORD in words(a.text)), a
    assert sum(a.rule == "bad-rule" for a in fleet.answers) >= 10
