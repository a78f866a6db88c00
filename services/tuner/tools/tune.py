"""``tune_params``: the Tuner's own evaluator for the ``state`` CMA-ES study, on the dev split.

Each evaluation asks the study for a point, scores the state with those
params on dev (in its own process, from the active release's code) and
tells the study; the best point is written to staging only if it beats the
current params by more than the noise margin of ``ci/budgets.json`` (a gain
inside it is as likely the luck of the best of many draws on dev as a real one).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, Field

from ratchet.ci.budgets import load_budgets
from ratchet.state import StateDocument, StateManager

from ..algorithms.cmaes import Best, Study
from ..rebase import follow_active
from ..scoring import DevScorer
from .studies import (
    STATE_STUDY,
    StudyStatus,
    StudyStore,
    ensure_study,
    off_loop,
    state_params,
    status_of,
)

DESCRIPTION = (
    "The Tuner's own evaluator: run the state's CMA-ES study for `evaluations` "
    "dev-split scores (in its own process, from the active release's code) and write "
    "the best params to staging if they beat the current ones on dev by more than the "
    "noise margin of ci/budgets.json."
)

Progress = Callable[[int, float], None]  # evaluations done, best dev accuracy so far


class TuneResult(BaseModel):
    evaluations: int
    dev_accuracy_before: float
    dev_accuracy_after: float
    params: dict[str, float] = Field(description="The params staging holds now.")
    applied: bool = Field(
        description="Staging got the best point (it beat the current one by the noise margin)."
    )
    noise_margin: float
    study_restarted: bool = Field(
        description="The study was (re)started: the state declares other params or bounds."
    )
    staging_revision: int
    status: StudyStatus


@dataclass(frozen=True)
class Search:
    """What a run of the study on one state found."""

    before: float  # dev accuracy of the state's own params
    best: Best | None  # the best point this run scored (its value is 1 - dev accuracy)
    restarted: bool
    study: Study

    @property
    def after(self) -> float:
        return 1 - self.best.value if self.best is not None else self.before

    def wins(self, margin: float) -> bool:
        """The best point beats the state's params by more than ``margin``."""
        return self.best is not None and self.after - self.before > margin


def with_params(data: dict[str, Any], values: dict[str, float]) -> dict[str, Any]:
    """State ``data`` with its declared params set to ``values`` (others kept)."""
    params = {
        name: {**p, "value": values.get(name, p["value"])} for name, p in data["params"].items()
    }
    return {**data, "params": params}


def _tell(candidate_id: str, value: float, study: Study) -> bool:
    return study.tell(candidate_id, value)


class ParamTuner:
    def __init__(self, studies: StudyStore, manager: StateManager, scorer: DevScorer) -> None:
        self.studies = studies
        self.manager = manager
        self.scorer = scorer

    async def tune_params(
        self, evaluations: Annotated[int, Field(ge=1, le=2000)] = 48
    ) -> TuneResult:
        return await off_loop(lambda: self.run(evaluations))

    def noise_margin(self) -> float:
        """The release bar of the code that scores: the active release's ci/budgets.json."""
        return load_budgets(self.scorer.code_root()).noise_margin

    def run(self, evaluations: int) -> TuneResult:
        """Blocking: ``evaluations`` scores on dev, then the best point to staging if it wins."""
        staging = follow_active(self.manager)  # tune what the active release declares
        found = self.search(staging.data, evaluations)
        margin = self.noise_margin()
        applied = found.wins(margin)
        written = self._write(found.best) if found.best is not None and applied else staging
        return TuneResult(
            evaluations=evaluations,
            dev_accuracy_before=round(found.before, 4),
            dev_accuracy_after=round(found.after if applied else found.before, 4),
            params={n: p["value"] for n, p in written.data["params"].items()},
            applied=applied,
            noise_margin=margin,
            study_restarted=found.restarted,
            staging_revision=written.revision,
            status=status_of(STATE_STUDY, found.study),
        )

    def search(
        self, base: dict[str, Any], evaluations: int, progress: Progress | None = None
    ) -> Search:
        """The state study run ``evaluations`` times on ``base``'s params (restarted from
        them first when ``base`` declares other params or bounds than the study has)."""
        if evaluations < 1:
            raise ValueError("evaluations must be at least 1")
        restarted = ensure_study(self.studies, STATE_STUDY, state_params(base))
        best: Best | None = None  # of this run: a continued study's may be of another base
        with self.scorer.session() as score:
            before = score(base)
            for done in range(1, evaluations + 1):
                _, candidate = self.studies.change(STATE_STUDY, lambda s: s.ask())
                accuracy = score(with_params(base, candidate.params))
                study, _ = self.studies.change(
                    STATE_STUDY, functools.partial(_tell, candidate.id, 1 - accuracy)
                )
                if best is None or 1 - accuracy < best.value:
                    best = Best(candidate.id, 1 - accuracy, candidate.params)
                if progress is not None:
                    progress(done, 1 - best.value)
        return Search(before, best, restarted, study)

    def _write(self, best: Best) -> StateDocument:
        def apply(document: StateDocument) -> tuple[dict[str, Any], dict[str, Any] | None]:
            return with_params(document.data, best.params), document.tuning

        return self.manager.update_staging_document(apply, actor="tuner")
