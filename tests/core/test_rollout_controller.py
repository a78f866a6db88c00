"""The rollout controller on real stores: live feedback promotes, aborts or holds a canary."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from ratchet.audit import AuditLog, CallRecord
from ratchet.config import RolloutMode
from ratchet.objects import ObjectStore
from ratchet.rollouts import controller
from ratchet.rollouts.analysis import AnalysisPolicy, StepPolicy
from ratchet.rollouts.controller import RolloutController
from ratchet.rollouts.delivery import deliver
from ratchet.rollouts.model import Outcome, Rollout, RolloutStatus
from ratchet.rollouts.policy import RolloutPolicy
from ratchet.rollouts.store import RolloutStore
from ratchet.sessions import SessionStore
from ratchet.state import StateDocument, StateManager

POLICY = RolloutPolicy(
    steps=[
        StepPolicy(weight=0.1, min_feedback=40, max_minutes=60),
        StepPolicy(weight=0.5, min_feedback=80, max_minutes=60),
    ],
    analysis=AnalysisPolicy(),
)
_ids = itertools.count()


class Home:
    """One home's stores, a controller on them, and traffic with feedback."""

    def __init__(self, store: ObjectStore, data: Path, policy: RolloutPolicy = POLICY) -> None:
        self.manager, self.rollouts = StateManager(store), RolloutStore(store)
        self.sessions = SessionStore(data / "sessions.sqlite3")
        self.audit = AuditLog(data / "audit.sqlite3")
        self.promoted: list[Rollout] = []
        self.policy = policy
        self.controller = self.new_controller()

    def new_controller(self) -> RolloutController:
        return RolloutController(
            self.manager,
            self.rollouts,
            self.sessions,
            self.audit,
            lambda: self.policy,
            on_promoted=self.promoted.append,
        )

    def release(self, version: str) -> None:
        deliver(
            self.manager,
            self.rollouts,
            mode=RolloutMode.PROGRESSIVE,
            first_weight=self.policy.first_weight,
            version=version,
            document=StateDocument(data={"version": version}),
            commit=None,
            actor="test",
            reason=version,
        )

    def traffic(self, version: str, turns: int, accuracy: float, *, errors: int = 0) -> None:
        """``turns`` answered by ``version``, each corrected with probability 1 - accuracy."""
        rng = random.Random(f"{version}{turns}{accuracy}")
        for _ in range(turns):
            cid = f"c{next(_ids)}"
            answer = {
                "intent": "card_lost",
                "confidence": 0.9,
                "alternatives": [],
                "arm": "blend",
                "rule": None,
                "reply_id": None,
                "version": version,
                "state_revision": 0,
            }
            turn = self.sessions.record_turn(cid, "my card is gone", answer)
            self.audit.record(CallRecord("route", 5.0, "ok", cid, turn, version, 0))
            right = rng.random() < accuracy
            self.sessions.record_feedback(
                cid,
                turn,
                correct_intent="card_lost" if right else "card_arrival",
                reward=None,
                idempotency_key=None,
                source="test",
            )
        for _ in range(errors):
            self.audit.record(CallRecord("route", 5.0, "error", None, None, version, 0))


@pytest.fixture
def home(store: ObjectStore, tmp_path: Path) -> Iterator[Home]:
    home = Home(store, tmp_path)
    home.release("v0.1.0")
    home.release("v0.2.0")
    yield home
    home.sessions.close()
    home.audit.close()


def test_a_canary_as_good_as_stable_steps_up_then_is_promoted(home: Home) -> None:
    home.traffic("v0.1.0", 400, 0.93)
    home.traffic("v0.2.0", 45, 0.95)
    stepped = home.controller.tick()
    assert stepped is not None and stepped.step == 1 and stepped.weight == 0.5
    assert home.manager.pointer().canary.weight == 0.5  # type: ignore[union-attr]
    assert stepped.decisions[-1].outcome == Outcome.NEXT_STEP

    home.traffic("v0.2.0", 45, 0.95)
    ended = home.controller.tick()
    assert ended is not None and ended.status == RolloutStatus.PROMOTED
    pointer = home.manager.pointer()
    assert pointer is not None and (pointer.version, pointer.canary) == ("v0.2.0", None)
    assert [r.version for r in home.promoted] == ["v0.2.0"]
    assert ended.verdict is not None and ended.verdict.analysis["canary_feedback"] == 90


def test_a_canary_that_is_corrected_more_is_aborted_and_kept(home: Home) -> None:
    home.traffic("v0.1.0", 400, 0.93)
    home.traffic("v0.2.0", 60, 0.5)
    ended = home.controller.tick()
    assert ended is not None and ended.status == RolloutStatus.ABORTED
    assert ended.verdict is not None and any("correction" in r for r in ended.verdict.reasons)
    pointer = home.manager.pointer()
    assert pointer is not None and (pointer.version, pointer.canary) == ("v0.1.0", None)
    assert home.rollouts.get(ended.id).canary.version == "v0.2.0"
    assert home.promoted == []


def test_errors_on_the_canary_abort_it_at_once(home: Home) -> None:
    home.traffic("v0.2.0", 60, 0.95, errors=20)
    ended = home.controller.tick()
    assert ended is not None and ended.status == RolloutStatus.ABORTED
    assert ended.verdict is not None and "error" in " ".join(ended.verdict.reasons)


def test_a_step_out_of_time_is_held_for_a_person(store: ObjectStore, tmp_path: Path) -> None:
    quick = RolloutPolicy(steps=[StepPolicy(weight=0.1, min_feedback=40, max_minutes=1e-6)])
    home = Home(store, tmp_path, quick)
    home.release("v0.1.0")
    home.release("v0.2.0")
    held = home.controller.tick()
    assert held is not None and held.status == RolloutStatus.HELD
    assert held.decisions[-1].outcome == Outcome.INCONCLUSIVE
    assert home.manager.pointer().canary is not None  # type: ignore[union-attr]
    assert home.controller.tick() == held  # nothing moves until a person decides


def test_a_new_controller_resumes_at_the_same_step_with_the_same_counts(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(controller, "LATEST_EVERY_S", 0.0)  # write every verdict
    home.traffic("v0.1.0", 400, 0.93)
    home.traffic("v0.2.0", 45, 0.95)
    home.controller.tick()
    home.traffic("v0.2.0", 10, 0.95)
    first = home.controller.tick()
    again = home.new_controller().tick()  # as after a kill: only the records and databases
    assert first is not None and again is not None
    assert (again.step, again.weight) == (first.step, first.weight) == (1, 0.5)
    assert again.latest is not None
    assert again.latest.analysis["canary_feedback"] == 55
