"""Bradley-Terry fitting of reply strengths from pairwise preferences."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from services.tuner.algorithms.preferences import (
    Comparison,
    Reply,
    UnknownItemError,
    apply_strengths,
    fit_strengths,
)


def synthetic(true: dict[str, float], n: int, seed: int) -> list[Comparison]:
    """Comparisons between random pairs, won with the Bradley-Terry probability."""
    rng = random.Random(seed)
    ids = sorted(true)
    result = []
    for _ in range(n):
        a, b = rng.sample(ids, 2)
        p_a = 1 / (1 + math.exp(true[b] - true[a]))
        result.append(Comparison(a, b) if rng.random() < p_a else Comparison(b, a))
    return result


def test_recovers_known_strengths() -> None:
    true = {f"r{i}": s for i, s in enumerate([-1.5, -0.8, -0.2, 0.0, 0.4, 0.9, 1.6])}
    fit = fit_strengths(synthetic(true, 3000, seed=1), list(true))
    ids = list(true)
    estimated = np.array([fit.strengths[i] for i in ids])
    assert np.corrcoef(estimated, [true[i] for i in ids])[0, 1] > 0.98
    assert sorted(ids, key=fit.strengths.__getitem__) == ids  # the true order
    assert abs(estimated.mean()) < 1e-9
    assert sum(fit.comparisons.values()) == 2 * 3000


def test_perfect_winner_stays_finite() -> None:
    comparisons = [Comparison("a", "b") for _ in range(50)] + [Comparison("a", "c")] * 20
    fit = fit_strengths(comparisons, ["a", "b", "c"])
    assert all(math.isfinite(v) for v in fit.strengths.values())
    assert fit.strengths["a"] > 1.0 > 0 > fit.strengths["b"]
    assert fit.strengths["a"] < 10  # the prior bounds it


def test_items_never_compared_keep_their_prior() -> None:
    fit = fit_strengths([], ["a", "b"])
    assert fit.strengths == {"a": 0.0, "b": 0.0} and fit.comparisons == {"a": 0, "b": 0}

    fit = fit_strengths([Comparison("a", "b")] * 3, ["a", "b", "idle"])
    assert fit.strengths["idle"] == pytest.approx(0.0, abs=1e-12)
    assert fit.comparisons["idle"] == 0

    # With a prior, an uncompared item keeps its place relative to the others.
    fit = fit_strengths([], ["a", "b", "c"], prior={"a": 1.0, "b": 0.0, "c": -1.0})
    assert fit.strengths == pytest.approx({"a": 1.0, "b": 0.0, "c": -1.0})


def test_prior_shrinks_towards_new_evidence_by_its_weight() -> None:
    prior = {"a": 1.0, "b": -1.0}
    upset = [Comparison("b", "a")]
    weak = fit_strengths(upset, ["a", "b"], prior=prior)
    strong = fit_strengths(upset, ["a", "b"], prior=prior, regularization=4.0)
    assert weak.strengths["a"] < strong.strengths["a"] < 1.0
    assert strong.strengths["a"] > strong.strengths["b"]  # a firm prior survives one upset


def test_ties_and_weights() -> None:
    tied = fit_strengths([Comparison("a", "b", tie=True)] * 10, ["a", "b"])
    assert tied.strengths["a"] == pytest.approx(tied.strengths["b"], abs=1e-9)
    heavy = fit_strengths([Comparison("a", "b", weight=5.0)], ["a", "b"])
    repeated = fit_strengths([Comparison("a", "b")] * 5, ["a", "b"])
    assert heavy.strengths == pytest.approx(repeated.strengths)


def test_rejects_bad_input() -> None:
    with pytest.raises(UnknownItemError, match="ghost"):
        fit_strengths([Comparison("a", "ghost")], ["a", "b"])
    with pytest.raises(UnknownItemError, match="ghost"):
        fit_strengths([], ["a"], prior={"ghost": 1.0})
    assert issubclass(UnknownItemError, ValueError)
    with pytest.raises(ValueError, match="itself"):
        fit_strengths([Comparison("a", "a")], ["a", "b"])
    with pytest.raises(ValueError, match="weight"):
        fit_strengths([Comparison("a", "b", weight=0)], ["a", "b"])
    with pytest.raises(ValueError, match="unique"):
        fit_strengths([], ["a", "a"])


def test_deterministic() -> None:
    true = {"a": 1.0, "b": 0.0, "c": -1.0}
    comparisons = synthetic(true, 200, seed=7)
    assert fit_strengths(comparisons, list(true)) == fit_strengths(comparisons, list(true))


def test_apply_strengths_is_pure() -> None:
    replies: dict[str, list[Reply]] = {
        "card_arrival": [
            Reply(id="card_arrival.a", text="A"),
            Reply(id="card_arrival.b", text="B"),
        ],
        "top_up": [Reply(id="top_up.a", text="T", strength=0.3)],
    }
    updated = apply_strengths(replies, "card_arrival", {"card_arrival.b": 0.123456})
    assert [r.strength for r in updated["card_arrival"]] == [0.0, 0.1235]
    assert updated["top_up"] == replies["top_up"]
    assert replies["card_arrival"][1].strength == 0.0  # the input is untouched
    assert updated["top_up"][0] is not replies["top_up"][0]

    # Plain dicts (a state document's JSON) work too.
    raw = {"top_up": [{"id": "top_up.a", "text": "T"}]}
    assert apply_strengths(raw, "top_up", {"top_up.a": -1.0})["top_up"][0].strength == -1.0

    with pytest.raises(UnknownItemError):
        apply_strengths(replies, "top_up", {"card_arrival.a": 1.0})
    with pytest.raises(UnknownItemError):
        apply_strengths(replies, "no_such_intent", {})


def test_apply_strengths_keeps_reply_fields_it_does_not_know() -> None:
    raw = {"top_up": [{"id": "top_up.a", "text": "T", "locale": "en"}]}
    reply = apply_strengths(raw, "top_up", {"top_up.a": 0.5})["top_up"][0]
    assert reply.model_dump() == {"id": "top_up.a", "text": "T", "strength": 0.5, "locale": "en"}
