"""``tune_params``: the Tuner's own evaluator for the ``state`` CMA-ES study, on the dev split.

Each evaluation asks the study for a point, scores the state with those
params on dev (in its own process, from the active release's code) and
tells the study; the best point is written to staging only if it beats the
current params.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

from pydantic import BaseModel, Field

from ratchet.state import StateDocument, StateManager

from ..algorithms.cmaes import Best, Study
from ..scoring import DevScorer
from .studies import STATE_STUDY, StudyStatus, StudyStore, off_loop, state_params, status_of

DESCRIPTION = (
    "The Tuner's own evaluator: run the state's CMA-ES study for `evaluations` "
    "dev-split scores (in its own process, from the active release's code) and write "
    "the best params to staging if they beat the current ones on dev."
)


class TuneResult(BaseModel):
    evaluations: int
    dev_accuracy_before: float
    dev_accuracy_after: float
    params: dict[str, float] = Field(description="The params staging holds now.")
    applied: bool = Field(description="Staging got the best point (it beat the current one).")
    staging_revision: int
    status: StudyStatus


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

    def run(self, evaluations: int) -> TuneResult:
        """Blocking: ``evaluations`` scores on dev, then the best point to staging if it wins."""
        staging = self.manager.read_staging()
        if not self.studies.exists(STATE_STUDY):
            self.studies.start(STATE_STUDY, state_params(staging.data), 0.3, 0, None, False)
        before, study = self._evaluate(staging.data, evaluations)
        best = study.best
        after = 1 - best.value if best is not None else before
        applied = best is not None and after > before
        written = self._write(best) if best is not None and applied else staging
        return TuneResult(
            evaluations=evaluations,
            dev_accuracy_before=round(before, 4),
            dev_accuracy_after=round(max(after, before), 4),
            params={n: p["value"] for n, p in written.data["params"].items()},
            applied=applied,
            staging_revision=written.revision,
            status=status_of(STATE_STUDY, study),
        )

    def _evaluate(self, base: dict[str, Any], evaluations: int) -> tuple[float, Study]:
        """The dev accuracy of ``base`` and the study after ``evaluations`` asks and tells."""
        with self.scorer.session() as score:
            before = score(base)
            for _ in range(evaluations):
                _, candidate = self.studies.change(STATE_STUDY, lambda s: s.ask())
                accuracy = score(with_params(base, candidate.params))
                study, _ = self.studies.change(
                    STATE_STUDY, functools.partial(_tell, candidate.id, 1 - accuracy)
                )
        return before, study

    def _write(self, best: Best) -> StateDocument:
        def apply(document: StateDocument) -> tuple[dict[str, Any], dict[str, Any] | None]:
            return with_params(document.data, best.params), document.tuning

        return self.manager.update_staging_document(apply, actor="tuner")
