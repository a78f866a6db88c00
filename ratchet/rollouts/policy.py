"""The ``rollout`` section of ``ci/budgets.json``: the steps and the analysis's settings.

Like every budget it may only be tightened by a release that is not a
person's (:mod:`ratchet.policy`): ``max_*`` only lowered, and any other
change (the steps, alpha, the floors) refused, since no single direction of
those is safe for every user.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ratchet.rollouts.analysis import DEFAULT_STEPS, AnalysisPolicy, StepPolicy


class RolloutPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    steps: list[StepPolicy] = Field(default_factory=lambda: list(DEFAULT_STEPS), min_length=1)
    analysis: AnalysisPolicy = Field(default_factory=AnalysisPolicy)

    @model_validator(mode="after")
    def _steps_grow(self) -> Self:
        for before, after in zip(self.steps, self.steps[1:], strict=False):
            if after.weight < before.weight or after.min_feedback < before.min_feedback:
                raise ValueError(
                    "rollout steps must not shrink: each step's weight and min_feedback "
                    "(counted over the whole rollout) at least the previous step's"
                )
        return self

    @property
    def first_weight(self) -> float:
        return self.steps[0].weight
