"""Release tuning with a scorer made of arithmetic: the study restarts when the declared
params change, a gain inside the noise margin releases nothing, a release is tuned once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from ratchet.objects import open_object_store
from ratchet.state import StateManager, open_state_manager
from services.tuner.algorithms.cmaes import Param
from services.tuner.promotion import PromoteResult, ReleaseNote
from services.tuner.release_tuning import ReleaseTuner
from services.tuner.scoring import DevScorer, Score
from services.tuner.settings import TunerSettings
from services.tuner.tools.studies import STATE_STUDY, StudyStore, ensure_study
from services.tuner.tools.tune import ParamTuner
from tests.conftest import PROJECT_ROOT

KEY = b"a key of at least sixteen bytes"
Objective = Callable[[dict[str, float]], float]


class ArithmeticScorer(DevScorer):
    """Dev accuracy as a function of the params; the project's budgets (margin 0.005)."""

    def __init__(self, objective: Objective, gate: threading.Event | None = None) -> None:
        self.objective = objective
        self.gate = gate
        self.calls = 0

    def code_root(self) -> Path:
        return PROJECT_ROOT

    @contextmanager
    def session(self) -> Iterator[Score]:
        def score(data: dict[str, Any]) -> float:
            if self.gate is not None:
                self.gate.wait(10)
            self.calls += 1
            return self.objective({n: p["value"] for n, p in data["params"].items()})

        yield score


class ActivatingPromoter:
    """Releases staging as the next patch by moving the pointer (no micro tier, no git)."""

    def __init__(self, manager: StateManager) -> None:
        self.manager = manager
        self.notes: list[ReleaseNote] = []

    def promote(self, note: ReleaseNote | None = None) -> PromoteResult:
        assert note is not None
        self.notes.append(note)
        version = f"v0.1.{len(self.notes)}"
        self.manager.activate(version, self.manager.read_staging(), actor="tuner", reason="t")
        return PromoteResult(promoted=True, version=version, reason="ok", feedback_applied=0)


def temperature_gain(size: float) -> Objective:
    """0.8 at the state's temperature 0.05, up to 0.8 + ``size`` at temperature 1."""
    return lambda p: 0.8 + size * (p["temperature"] - 0.05) / 0.95


def release_tuner(
    settings: TunerSettings, scorer: ArithmeticScorer
) -> tuple[ReleaseTuner, ActivatingPromoter, StateManager]:
    manager = open_state_manager(settings)
    studies = StudyStore(open_object_store(settings), KEY)
    promoter = ActivatingPromoter(manager)
    tuner = ReleaseTuner(manager, ParamTuner(studies, manager, scorer), promoter)  # type: ignore[arg-type]
    return tuner, promoter, manager


def test_a_study_is_restarted_when_the_declared_params_or_bounds_change(
    tuner_settings: TunerSettings,
) -> None:
    studies = StudyStore(open_object_store(tuner_settings), KEY)
    old = [Param("temperature", 0.01, 1.0, 0.05)]
    assert ensure_study(studies, STATE_STUDY, old)
    assert not ensure_study(studies, STATE_STUDY, old)
    added = [*old, Param("ensemble_weight", 0.0, 1.0, 0.4)]
    assert ensure_study(studies, STATE_STUDY, added)
    assert [p.name for p in studies.load(STATE_STUDY).params] == ["temperature", "ensemble_weight"]
    assert ensure_study(studies, STATE_STUDY, [Param("temperature", 0.01, 2.0, 0.05), added[1]])


def test_tune_params_applies_no_gain_inside_the_noise_margin(
    tuner_settings: TunerSettings,
) -> None:
    manager = open_state_manager(tuner_settings)
    studies = StudyStore(open_object_store(tuner_settings), KEY)
    small = ParamTuner(studies, manager, ArithmeticScorer(temperature_gain(0.004))).run(12)
    assert not small.applied and small.noise_margin == 0.005
    assert small.dev_accuracy_after == small.dev_accuracy_before
    assert manager.read_staging().data["params"]["temperature"]["value"] == 0.05
    large = ParamTuner(studies, manager, ArithmeticScorer(temperature_gain(0.1))).run(12)
    assert large.applied and large.dev_accuracy_after > large.dev_accuracy_before + 0.005
    assert manager.read_staging().data["params"]["temperature"]["value"] > 0.05


def test_a_winning_tune_is_released_once_as_a_patch(tuner_settings: TunerSettings) -> None:
    scorer = ArithmeticScorer(temperature_gain(0.1))
    tuner, promoter, manager = release_tuner(tuner_settings, scorer)
    assert tuner.ask(10).phase == "running"
    outcome = tuner.wait(30)
    assert (outcome.phase, outcome.version, outcome.done) == ("released", "v0.1.1", 10)
    assert outcome.study_restarted
    count = len(outcome.params)
    assert outcome.reason.startswith(f"tuned {count} params after v0.1.0: dev 0.8000 -> ")
    assert outcome.reason.endswith(" in 10 evaluations")
    assert promoter.notes[0].metadata["tuned_after"] == "v0.1.0"
    active = manager.read_active()
    assert active is not None and active.document.data["params"]["temperature"]["value"] > 0.05
    calls = scorer.calls
    again = tuner.ask(10)
    assert again.phase == "done" and again.reason.startswith("already tuned: tuned ")
    assert (scorer.calls, len(promoter.notes)) == (calls, 1)
    # an Architect release of new code carries the record in its state: tuned again
    manager.activate("v0.2.0", active.document, actor="architect", reason="new code")
    assert tuner.ask(10).phase == "running"
    assert tuner.wait(30).release == "v0.2.0"


def test_a_tune_inside_the_noise_margin_keeps_the_params_and_is_not_repeated(
    tuner_settings: TunerSettings,
) -> None:
    scorer = ArithmeticScorer(temperature_gain(0.004))
    tuner, promoter, manager = release_tuner(tuner_settings, scorer)
    tuner.ask(10)
    outcome = tuner.wait(30)
    assert outcome.phase == "kept" and "noise margin 0.005" in outcome.reason
    assert promoter.notes == []
    active = manager.read_active()
    assert active is not None and active.document.data["params"]["temperature"]["value"] == 0.05
    again = tuner.ask(10)
    assert again.phase == "done" and "kept" in again.reason
    assert scorer.calls == 11  # the base once, then 10 points; none after


def test_a_new_release_with_a_new_param_is_tuned_again_from_a_restarted_study(
    tuner_settings: TunerSettings,
) -> None:
    tuner, _, manager = release_tuner(tuner_settings, ArithmeticScorer(temperature_gain(0.004)))
    tuner.ask(6)
    assert tuner.wait(30).phase == "kept"
    active = manager.read_active()
    assert active is not None
    data = active.document.data
    params = {**data["params"], "ensemble_weight": {"value": 0.4, "low": 0.0, "high": 1.0}}
    document = active.document.model_copy(update={"data": {**data, "params": params}})
    manager.activate("v0.2.0", document, actor="architect", reason="a template")
    assert tuner.ask(6).release == "v0.2.0"
    outcome = tuner.wait(30)
    assert outcome.phase == "kept" and outcome.study_restarted
    assert "ensemble_weight" in outcome.params


def test_an_ask_while_a_tune_runs_answers_its_progress(tuner_settings: TunerSettings) -> None:
    gate = threading.Event()
    tuner, _, _ = release_tuner(tuner_settings, ArithmeticScorer(temperature_gain(0.004), gate))
    first = tuner.ask(4)
    second = tuner.ask(40)
    assert first.phase == second.phase == "running"
    assert second.evaluations == 4  # the running one's, not a new tune
    gate.set()
    assert tuner.wait(30).evaluations == 4


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> Iterator[None]:
    before = {t.name for t in threading.enumerate()}
    yield
    left = [t for t in threading.enumerate() if t.name == "tune-release" and t.is_alive()]
    for thread in left:
        thread.join(30)
    assert not [t for t in left if t.is_alive()], before


def test_a_search_whose_best_scores_below_the_release_says_so(
    tuner_settings: TunerSettings,
) -> None:
    """Every other point scores lower: the verdict names both scores, not "before ->
    after", which would read as if the tuner had tuned the release down."""
    scorer = ArithmeticScorer(lambda p: 0.8 - abs(p["temperature"] - 0.05))
    tuner, promoter, _ = release_tuner(tuner_settings, scorer)
    tuner.ask(10)
    outcome = tuner.wait(30)
    assert outcome.phase == "kept" and promoter.notes == []
    assert outcome.reason.startswith(
        "v0.1.0's params kept: they score 0.8000 on dev, the best of 10 evaluations 0.7"
    ), outcome.reason
    assert outcome.reason.endswith(
        " (below them); a tune must beat them by more than the noise margin 0.005"
    )
