"""The ``ensemble`` arm: a weighted mix of other arms' scores, the cheapest asked first.

Added by the examples template ``runner_strategies/ensemble`` (which brings
``tfidf_linear`` and ``minilm_embed`` along when a version lacks them). Its
members are any subset of the state's arms: each arm with a declared weight
``ensemble_w_<arm>`` above 0 (bounded params, so the Tuner's CMA-ES tunes them
on the dev split; a weight tuned to 0 drops the member and its cost). The
heads err differently: TF-IDF n-grams decide on rare exact words ("Apple Pay",
"PIN"), sentence embeddings on paraphrase ("hasn't come" for "not
delivered"); the SVM heads' margins share a scale, so a convex mix needs no
calibration.

Members are asked cheapest first (:data:`COST_ORDER`). After each, when the
mix so far has its top two scores at least ``ensemble_gate_<arm>`` apart, it
answers without the costlier members: on BANKING77's dev split a gate of 0.7
after ``linear`` skips both embeddings for 73% of messages at the same
accuracy, and ``mpnet`` (eight times MiniLM's cost) is asked only where
``linear`` and ``minilm`` together are unsure.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

WEIGHT, GATE = "ensemble_w_", "ensemble_gate_"
# Cheapest first (measured per call on two cores): centroid and k-NN read one sparse row;
# bm25 an SQLite query; minilm a 6-layer encoder (~14 ms); mpnet a 12-layer one (~8x).
COST_ORDER = ("centroid", "linear", "knn", "blend", "bm25", "minilm", "mpnet")


class Router(Protocol):
    """What the arm reads of ``IntentRouter``: the state and any arm's scores."""

    @property
    def state(self) -> Any: ...

    def _scores(self, text: str, arm: Any) -> NDArray[np.float64]: ...


def members(params: Any) -> list[tuple[str, float]]:
    """The mixed arms with their weights, cheapest first (arms of unknown cost last)."""
    extra: dict[str, Any] = params.model_extra or {}
    weighted = [(n[len(WEIGHT) :], p.value) for n, p in extra.items() if n.startswith(WEIGHT)]
    found = [(arm, weight) for arm, weight in weighted if weight > 0]

    def cost(member: tuple[str, float]) -> tuple[int, str]:
        arm = member[0]
        return (COST_ORDER.index(arm) if arm in COST_ORDER else len(COST_ORDER), arm)

    return sorted(found, key=cost)


def margin(scores: NDArray[np.float64]) -> float:
    """The gap between the best and the runner-up score (how sure the mix is)."""
    if scores.size < 2:
        return float("inf")
    runner_up, best = np.partition(scores, -2)[-2:]
    return float(best - runner_up)


def ensemble_scores(router: Router, text: str) -> NDArray[np.float64]:
    """The weighted mean of the members' scores, stopping early at a gate that holds."""
    params = router.state.params
    mixed = members(params)
    if not mixed:
        raise ValueError("the ensemble arm has no members: declare ensemble_w_<arm> params above 0")
    gates: dict[str, Any] = params.model_extra or {}
    total = 0.0
    mix: NDArray[np.float64] | None = None
    for position, (arm, weight) in enumerate(mixed):
        if arm == "ensemble":
            raise ValueError("the ensemble arm cannot be its own member")
        scores = weight * router._scores(text, arm)
        mix = scores if mix is None else mix + scores
        total += weight
        gate = gates.get(GATE + arm)
        last = position == len(mixed) - 1
        if not last and gate is not None and margin(mix / total) >= gate.value:
            break
    assert mix is not None
    result: NDArray[np.float64] = mix / total
    return result
