"""Bradley-Terry strengths for reply variants, fitted from pairwise preferences.

Users compare two replies ("this one was better"); the router suggests the
variant with the highest log-strength. The model: P(i beats j) = sigmoid(s_i - s_j).
We fit the maximum a posteriori strengths under a Gaussian prior (centred on
0, or on given seed strengths) by Newton's method with backtracking. The
prior keeps a variant that only ever won (or lost) finite and leaves variants
nobody compared where they were. It is deliberately weak (see
``DEFAULT_REGULARIZATION``), so refit from *all* comparisons each time rather
than chaining fits through the prior: a single Gaussian does not carry what
earlier rounds learnt. Strengths are centred to mean 0: only differences count.

Pure: no I/O, deterministic for the same inputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

# Precision of the Gaussian prior. Near the prior, one drawn comparison against
# an equal opponent has curvature 1/4, so 0.25 weighs the prior like a single
# draw: a handful of consistent votes move a variant clearly, one vote does not.
DEFAULT_REGULARIZATION = 0.25
MAX_ITERATIONS = 100
TOLERANCE = 1e-9
DIGITS = 4  # strengths written to the state: readable diffs, far below any real difference


class Reply(BaseModel):
    """A reply variant as the state carries it (``replies[intent][i]``).

    The Tuner's own reading of the state's JSON, not the Runner's model: the
    Tuner sets ``strength`` and keeps every other field as it found it, so a
    release that adds fields to a reply loses none of them here.
    """

    model_config = ConfigDict(extra="allow")

    id: str
    text: str
    strength: float = 0.0  # Bradley-Terry log-strength; the strongest is suggested


class UnknownItemError(ValueError):
    """A comparison, prior or strength names an id that is not among the items."""


@dataclass(frozen=True, slots=True)
class Comparison:
    winner: str
    loser: str
    weight: float = 1.0
    tie: bool = False  # a draw: counted as half a win each way


@dataclass(frozen=True, slots=True)
class Strengths:
    strengths: dict[str, float]  # log-strength per id, mean 0
    comparisons: dict[str, int]  # comparisons each id took part in
    iterations: int  # Newton steps taken


def fit_strengths(
    comparisons: Iterable[Comparison],
    items: Sequence[str],
    prior: Mapping[str, float] | None = None,
    regularization: float = DEFAULT_REGULARIZATION,
) -> Strengths:
    """MAP Bradley-Terry log-strengths of ``items`` from ``comparisons``.

    Items never compared keep their prior (0 without one), shifted by the centring.
    """
    if regularization <= 0:
        raise ValueError("regularization must be positive: it keeps strengths finite")
    index = {item: i for i, item in enumerate(items)}
    if len(index) != len(items):
        raise ValueError("item ids must be unique")
    prior = dict(prior or {})
    unknown = sorted(set(prior) - set(index))
    if unknown:
        raise UnknownItemError(f"prior names unknown items: {unknown}")
    mean = np.array([float(prior.get(item, 0.0)) for item in items])
    winners, losers, weights, counts = _pairs(comparisons, index)
    s, iterations = _newton(mean, winners, losers, weights, regularization)
    if s.size:
        s -= s.mean()
    return Strengths(
        strengths={item: float(s[i]) for i, item in enumerate(items)},
        comparisons={item: int(counts[i]) for i, item in enumerate(items)},
        iterations=iterations,
    )


def _pairs(
    comparisons: Iterable[Comparison], index: Mapping[str, int]
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float64], NDArray[np.int64]]:
    """Comparisons as (winner, loser, weight) arrays; a draw becomes two half-wins."""
    winners: list[int] = []
    losers: list[int] = []
    weights: list[float] = []
    counts = np.zeros(len(index), dtype=np.int64)
    for c in comparisons:
        missing = [name for name in (c.winner, c.loser) if name not in index]
        if missing:
            raise UnknownItemError(f"comparison names unknown items: {missing}")
        if c.winner == c.loser:
            raise ValueError(f"an item cannot be compared with itself: {c.winner!r}")
        if not (c.weight > 0 and np.isfinite(c.weight)):
            raise ValueError(f"comparison weight must be positive and finite, got {c.weight}")
        w, lo = index[c.winner], index[c.loser]
        counts[w] += 1
        counts[lo] += 1
        if c.tie:
            winners += [w, lo]
            losers += [lo, w]
            weights += [c.weight / 2, c.weight / 2]
        else:
            winners.append(w)
            losers.append(lo)
            weights.append(c.weight)
    return (
        np.array(winners, dtype=np.intp),
        np.array(losers, dtype=np.intp),
        np.array(weights, dtype=np.float64),
        counts,
    )


def _newton(
    mean: NDArray[np.float64],
    winners: NDArray[np.intp],
    losers: NDArray[np.intp],
    weights: NDArray[np.float64],
    regularization: float,
) -> tuple[NDArray[np.float64], int]:
    """Maximise the log-posterior; it is strictly concave, so Newton converges."""

    def objective(s: NDArray[np.float64]) -> float:
        margin = s[winners] - s[losers]
        log_likelihood = -(weights * np.logaddexp(0.0, -margin)).sum()
        return float(log_likelihood - regularization / 2 * ((s - mean) ** 2).sum())

    s = mean.copy()
    n = s.size
    for iteration in range(1, MAX_ITERATIONS + 1):
        margin = s[winners] - s[losers]
        p_win = 1.0 / (1.0 + np.exp(-margin))
        pull = weights * (1.0 - p_win)  # how much each comparison still pushes apart
        gradient = -regularization * (s - mean)
        np.add.at(gradient, winners, pull)
        np.add.at(gradient, losers, -pull)
        curvature = weights * p_win * (1.0 - p_win)
        negative_hessian = regularization * np.eye(n)
        np.add.at(negative_hessian, (winners, winners), curvature)
        np.add.at(negative_hessian, (losers, losers), curvature)
        np.add.at(negative_hessian, (winners, losers), -curvature)
        np.add.at(negative_hessian, (losers, winners), -curvature)
        step = np.linalg.solve(negative_hessian, gradient)
        # Backtrack: a full Newton step can overshoot when strengths are far apart.
        current, t = objective(s), 1.0
        while objective(s + t * step) < current and t > 1e-8:
            t /= 2
        s = s + t * step
        if np.abs(t * step).max(initial=0.0) < TOLERANCE:
            return s, iteration
    return s, MAX_ITERATIONS


def apply_strengths(
    replies: Mapping[str, Sequence[Reply | Mapping[str, Any]]],
    intent: str,
    strengths: Mapping[str, float],
) -> dict[str, list[Reply]]:
    """A copy of ``replies`` with ``intent``'s variants given the fitted strengths.

    Variants absent from ``strengths`` keep theirs; other intents are copied unchanged.
    """
    if intent not in replies:
        raise UnknownItemError(f"no replies for intent {intent!r}")
    # Copies throughout: the caller's state must not change under it.
    result = {
        name: [
            r.model_copy() if isinstance(r, Reply) else Reply.model_validate(r) for r in variants
        ]
        for name, variants in replies.items()
    }
    ids = {reply.id for reply in result[intent]}
    unknown = sorted(set(strengths) - ids)
    if unknown:
        raise UnknownItemError(f"strengths name replies not under {intent!r}: {unknown}")
    result[intent] = [
        reply.model_copy(update={"strength": round(float(strengths[reply.id]), DIGITS)})
        if reply.id in strengths
        else reply
        for reply in result[intent]
    ]
    return result
