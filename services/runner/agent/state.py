"""The agent's state: what the Tuner can act on, declared and validated.

- ``strategy.arms``: scoring strategies with Beta posteriors (Thompson sampling);
- ``params``: continuous parameters with bounds (CMA-ES);
- ``replies``: reply variants per intent with Bradley-Terry strengths;
- ``rules``: overrides mined from corrected mistakes;
- ``features``: how text becomes vectors (changing it means retraining).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ratchet.tasks.task import default_replies

ArmName = Literal["centroid", "knn", "blend"]


class Arm(BaseModel):
    alpha: float = Field(default=1.0, gt=0)
    beta: float = Field(default=1.0, gt=0)
    # Dominated on dev by more than the budgets allow: kept with its evidence, never
    # drawn for a new conversation (conversations already on it keep it).
    retired: bool = False

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)


class Strategy(BaseModel):
    arms: dict[ArmName, Arm]
    explore: bool = True  # Thompson-sample an arm per conversation; False: always the best mean
    # The share of new conversations that explore (Thompson-sampled); the others get
    # the best posterior mean. Exploration costs what users are served: its ceiling
    # is a budget (ci/budgets.json `exploration.max_explore_share`).
    explore_share: float = Field(default=0.1, ge=0, le=1)

    @model_validator(mode="after")
    def _some_arm(self) -> Strategy:
        if not any(not arm.retired for arm in self.arms.values()):
            raise ValueError("strategy.arms must declare at least one arm that is not retired")
        return self

    def live(self) -> dict[ArmName, Arm]:
        """The arms a new conversation may get."""
        return {name: arm for name, arm in self.arms.items() if not arm.retired}

    def best(self) -> ArmName:
        """The live arm with the highest posterior mean; ties go to the first declared."""
        live = self.live()
        return max(live, key=lambda name: live[name].mean)


class Param(BaseModel):
    value: float
    low: float
    high: float

    @model_validator(mode="after")
    def _in_bounds(self) -> Param:
        if not self.low <= self.value <= self.high:
            raise ValueError(f"value {self.value} outside [{self.low}, {self.high}]")
        return self


class Params(BaseModel):
    blend_weight: Param  # share of the k-NN vote in the blend arm
    knn_k: Param  # neighbours that vote (rounded)
    temperature: Param  # softmax temperature turning scores into confidences
    # Out of scope when the answering arm's best confidence is below it; only a task
    # with out-of-scope rows abstains (0: never; a state from before it has none).
    abstain_threshold: Param = Field(default_factory=lambda: Param(value=0.0, low=0.0, high=1.0))


class Reply(BaseModel):
    id: str
    text: str
    strength: float = 0.0  # Bradley-Terry log-strength; the strongest is suggested


class Rule(BaseModel):
    id: str
    all_of: list[str] = Field(min_length=1)  # lower-case words that must all appear
    intent: str
    support: int = 0
    confidence: float = Field(default=1.0, ge=0, le=1)


class Features(BaseModel):
    ngram_max: int = Field(default=1, ge=1, le=3)
    sublinear_tf: bool = False


class AgentState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent: str = Field(default="router", min_length=1)  # "<task>-router"
    features: Features = Features()
    strategy: Strategy
    params: Params
    replies: dict[str, list[Reply]] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)

    def training_key(self) -> str:
        """Hash of what training depends on; a state change elsewhere reuses the model."""
        payload = json.dumps(self.features.model_dump(), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def reply_variants(texts: Mapping[str, Sequence[str]]) -> dict[str, list[Reply]]:
    """Each label's reply texts as variants ``<label>.a``, ``<label>.b``, ... of equal strength."""
    return {
        label: [Reply(id=f"{label}.{chr(ord('a') + i)}", text=text) for i, text in enumerate(given)]
        for label, given in texts.items()
    }


def default_state(
    labels: tuple[str, ...],
    *,
    agent: str = "router",
    replies: Mapping[str, Sequence[str]] | None = None,
) -> AgentState:
    """v0.1.0: nearest centroid on word unigrams, with room for the Tuner.

    The prior leans to the simple centroid arm (mean 2/3 against 1/2), so the
    release is judged on it until feedback shows the blend arm answers better;
    Thompson sampling still tries the blend arm from the first conversation.
    ``replies``: texts per label (a task's ``Task.replies()``); a label without
    gets the core's plain variants (:func:`ratchet.tasks.task.default_replies`).
    """
    given = replies or {}
    texts = {label: list(given.get(label) or default_replies(label)) for label in labels}
    return AgentState(
        agent=agent,
        strategy=Strategy(
            arms={"centroid": Arm(alpha=2.0, beta=1.0), "blend": Arm()}, explore=True
        ),
        params=Params(
            blend_weight=Param(value=0.5, low=0.0, high=1.0),
            knn_k=Param(value=10, low=1, high=50),
            temperature=Param(value=0.05, low=0.01, high=1.0),
            abstain_threshold=Param(value=0.0, low=0.0, high=1.0),
        ),
        replies=reply_variants(texts),
    )


def parse(data: dict[str, Any]) -> AgentState:
    return AgentState.model_validate(data)


if __name__ == "__main__":
    # Regenerates state/active.state.json for a fresh project:
    #   python -m services.runner.agent.state > state/active.state.json
    import sys
    from pathlib import Path

    from ratchet import datasets
    from ratchet.state import StateDocument

    root = Path(__file__).resolve().parents[3]
    task = datasets.task(root)
    state = default_state(task.labels, agent=f"{task.name}-router", replies=task.replies())
    document = StateDocument(
        updated_at="2026-11-23T00:00:00.000Z", data=state.model_dump(mode="json")
    )
    sys.stdout.write(json.dumps(document.to_json(), indent=2, sort_keys=True) + "\n")
