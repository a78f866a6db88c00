"""What exploring the Runner's strategy arms costs its users: measured, bounded, reported.

The Runner serves each new conversation one arm of the state's
``strategy.arms``: for most conversations the arm with the best posterior
mean, for a share of them (``strategy.explore_share``) a Thompson draw. Drawn
from priors that know nothing, the draws send many users to weaker arms, so a
release would be judged on its best arm while users got less. Three rules,
from ``ci/budgets.json`` (``exploration``), keep the two close:

- **calibration** (each Architect candidate, before its fast tier): the
  harness measures every arm on dev in the agent process; the arm's Beta prior
  becomes that evidence (``1 + right``, ``1 + wrong``), an arm more than
  ``max_retire_gap`` under the best is retired, and ``explore_share`` is capped
  at ``max_explore_share``. Feedback then adds to these posteriors as before.
- **cost** (the full tier): the arms' shares of the served held-out
  conversations times their shortfall against the best arm's held-out
  accuracy; at most ``max_cost``.
- **report**: a release's held-out accuracy is what the policy served; the
  best arm's stands next to it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ratchet.ci.agent_process import AgentProcess
from ratchet.ci.budgets import Exploration
from ratchet.datasets import Example
from ratchet.state import StateDocument


@dataclass(frozen=True, slots=True)
class ArmScore:
    right: int
    total: int

    @property
    def accuracy(self) -> float:
        return self.right / self.total if self.total else 0.0


def declared_arms(state: StateDocument) -> dict[str, dict[str, Any]]:
    """The state's ``strategy.arms`` (empty when it declares none)."""
    strategy = state.data.get("strategy")
    arms = strategy.get("arms") if isinstance(strategy, dict) else None
    return {str(k): v for k, v in arms.items() if isinstance(v, dict)} if arms else {}


def live_arms(state: StateDocument) -> list[str]:
    """The declared arms a new conversation may get (not retired)."""
    return [name for name, arm in declared_arms(state).items() if not arm.get("retired")]


def score_arms(
    agent: AgentProcess, state: StateDocument, examples: Sequence[Example], arms: Sequence[str]
) -> dict[str, ArmScore]:
    """Each arm's score on ``examples`` (the agent process routes their texts)."""
    scores = {}
    for arm in arms:
        intents = agent.route(state, arm)
        right = sum(got == e.intent for got, e in zip(intents, examples, strict=True))
        scores[arm] = ArmScore(right, len(examples))
    return scores


def calibrated(
    state: StateDocument, dev: Mapping[str, ArmScore], budget: Exploration
) -> tuple[StateDocument, list[str]]:
    """``state`` with dev evidence as priors, dominated arms retired, exploration capped;
    and one log line per arm saying what it became and why."""
    if not dev:
        return state, ["no strategy arms to calibrate"]
    data = copy.deepcopy(state.data)
    strategy = data["strategy"]
    best_name = max(dev, key=lambda name: (dev[name].accuracy, -list(dev).index(name)))
    best = dev[best_name].accuracy
    lines = []
    for name, arm in strategy["arms"].items():
        score = dev.get(name)
        if score is None:
            continue
        gap = best - score.accuracy
        arm["alpha"] = float(1 + score.right)
        arm["beta"] = float(1 + score.total - score.right)
        arm["retired"] = gap > budget.max_retire_gap
        fate = (
            f"retired ({gap * 100:.2f} points under {best_name})"
            if arm["retired"]
            else ("best" if name == best_name else f"{gap * 100:.2f} points under {best_name}")
        )
        lines.append(
            f"arm {name}: dev {score.accuracy:.4f} ({score.right}/{score.total}), "
            f"prior {score.right + 1}:{score.total - score.right + 1}, {fate}"
        )
    share = min(
        float(strategy.get("explore_share", budget.max_explore_share)), budget.max_explore_share
    )
    strategy["explore_share"] = share
    lines.append(f"explore share {share:g} (budget at most {budget.max_explore_share:g})")
    return state.model_copy(update={"data": data}), lines


def exploration_cost(served: Mapping[str, int], accuracy: Mapping[str, float]) -> float | None:
    """The expected accuracy the served mix of arms gives up against the best arm:
    each arm's share of the served conversations times its shortfall. None when an
    arm that served was not scored (nothing to compare it with)."""
    total = sum(served.values())
    if not total or not accuracy or any(arm not in accuracy for arm in served):
        return None
    best = max(accuracy.values())
    return sum(count / total * (best - accuracy[arm]) for arm, count in served.items())
