"""A rollout step's verdict: the always-valid test, the guardrails, every outcome of
``decide``, the policies' validation, and the simulation bench on a few rollouts."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from bench.rollout_sim import main as bench_main
from bench.rollout_sim import simulate
from ratchet.policy import budget_loosenings
from ratchet.rollouts.analysis import (
    DEFAULT_STEPS,
    AnalysisPolicy,
    SideSignals,
    StepPolicy,
    Verdict,
    decide,
)
from ratchet.rollouts.sequential import lower_bound, p_greater, p_less, upper_bound

POLICY = AnalysisPolicy()
STEP = StepPolicy(weight=0.1, min_feedback=60, max_minutes=30.0)


def verdict(stable: SideSignals, canary: SideSignals, **kwargs: object) -> Verdict:
    options: dict[str, object] = {"elapsed_s": 10.0, "last_step": False} | kwargs
    return decide(stable, canary, STEP, POLICY, **options)  # type: ignore[arg-type]


def test_the_p_value_is_the_half_normal_mixture_of_likelihood_ratios() -> None:
    d_hat, v, theta0, tau = 0.04, 4e-4, 0.0, 0.05
    lam = np.linspace(0.0, 1.0, 200_001)
    info, z = 1.0 / v, (d_hat - theta0) / v
    density = 2.0 / (tau * math.sqrt(2 * math.pi)) * np.exp(-(lam**2) / (2 * tau**2))
    mixture = float(np.trapezoid(np.exp(lam * z - lam**2 * info / 2) * density, lam))
    assert p_greater(d_hat, v, theta0, tau) == pytest.approx(1.0 / mixture, rel=1e-6)


def test_identical_streams_give_a_large_p_value() -> None:
    same = SideSignals(feedback=400, corrections=28)
    result = verdict(same, same)
    assert result.analysis["correction_p_abort"] == 1.0
    assert p_greater(0.0, 1e-4, 0.0, 0.05) == 1.0


def test_a_twenty_point_drop_aborts_within_a_hundred_canary_feedbacks() -> None:
    rng = np.random.default_rng(16)
    counts = {"stable": [0, 0], "canary": [0, 0]}
    for i in range(1, 2001):
        side = "canary" if i % 2 else "stable"
        counts[side][0] += 1
        counts[side][1] += bool(rng.random() < (0.27 if side == "canary" else 0.07))
        if min(counts["stable"][0], counts["canary"][0]) < POLICY.decision_floor:
            continue
        stable, canary = (SideSignals(*counts[s]) for s in ("stable", "canary"))
        result = verdict(stable, canary)
        if result.outcome == "abort":
            break
    assert result.outcome == "abort"
    assert canary.feedback <= 100
    assert float(result.analysis["correction_p_abort"] or 1.0) < POLICY.alpha
    assert "always-valid p" in result.reasons[0]


def test_the_confidence_sequence_bounds_are_where_the_tests_reject() -> None:
    upper = upper_bound(0.01, 1e-3, 0.05, 0.05)
    assert p_less(0.01, 1e-3, upper, 0.05) == pytest.approx(0.05, rel=1e-2)
    assert lower_bound(0.01, 1e-3, 0.05, 0.05) == pytest.approx(0.02 - upper)
    assert p_less(0.01, 1e-3, upper - 0.005, 0.05) > 0.05


def test_guardrails_abort_at_once_past_the_floor_of_calls() -> None:
    stable = SideSignals(feedback=5, corrections=0, calls=100)
    failing = SideSignals(feedback=5, corrections=0, calls=50, errors=4)  # 8% > 5%
    slow = SideSignals(feedback=5, calls=50, p95_ms=400.0)
    assert verdict(stable, failing).outcome == "abort"
    assert "error rate 8.00%" in verdict(stable, failing).reasons[0]
    assert verdict(stable, slow).outcome == "abort"
    assert "p95 400.0 ms" in verdict(stable, slow).reasons[0]
    too_few = SideSignals(feedback=5, calls=49, errors=40, p95_ms=900.0)
    assert verdict(stable, too_few).outcome == "continue"


def test_below_the_decision_floor_nothing_is_decided() -> None:
    stable = SideSignals(feedback=1000, corrections=0)
    canary = SideSignals(feedback=29, corrections=29)
    assert verdict(stable, canary).outcome == "continue"
    assert "correction_p_abort" not in verdict(stable, canary).analysis


def test_a_step_passes_at_its_feedback_and_the_last_one_promotes() -> None:
    stable = SideSignals(feedback=600, corrections=42)
    canary = SideSignals(feedback=60, corrections=4)
    passed = verdict(stable, canary)
    assert passed.outcome == "next_step"
    assert "60 feedbacks (step needs 60)" in passed.reasons[0]
    assert verdict(stable, canary, last_step=True).outcome == "promote"
    short = verdict(stable, SideSignals(feedback=59, corrections=4))
    assert short.outcome == "continue"
    assert short.reasons == ["collecting: canary has 59 of 60 feedbacks"]


def test_a_clearly_better_canary_passes_early() -> None:
    stable = SideSignals(feedback=2000, corrections=300)
    canary = SideSignals(feedback=50, corrections=0)
    result = verdict(stable, canary)
    assert result.outcome == "next_step"
    assert result.reasons[0].startswith("early pass")
    assert float(result.analysis["correction_diff_upper"] or 0.0) < 0.0
    no_early = AnalysisPolicy(early_pass=False)
    held = decide(stable, canary, STEP, no_early, elapsed_s=1.0, last_step=False)
    assert held.outcome == "continue"


def test_a_step_out_of_time_is_inconclusive() -> None:
    stable = SideSignals(feedback=300, corrections=21)
    canary = SideSignals(feedback=40, corrections=3)
    assert verdict(stable, canary, elapsed_s=30 * 60.0).outcome == "continue"
    held = verdict(stable, canary, elapsed_s=30 * 60.0 + 1)
    assert held.outcome == "inconclusive"
    assert "40 of 60 canary feedbacks" in held.reasons[0]


def test_a_lower_mean_reward_aborts_and_shares_alpha() -> None:
    # Rewards of 0 or 1: 80% on stable, 50% on the canary, 100 each.
    stable = SideSignals(
        feedback=100, corrections=7, rewards=100, reward_sum=80.0, reward_sq_sum=80.0
    )
    canary = SideSignals(
        feedback=40, corrections=3, rewards=100, reward_sum=50.0, reward_sq_sum=50.0
    )
    result = verdict(stable, canary)
    assert result.outcome == "abort"
    assert result.analysis["alpha_each"] == pytest.approx(POLICY.alpha / 2)
    assert any("mean reward 0.500 vs stable 0.800" in r for r in result.reasons)
    json.dumps(result.analysis)  # the controller stores it


def test_bad_policies_and_signals_are_refused() -> None:
    for bad in ({"weight": 0.0}, {"weight": 1.5}, {"min_feedback": 0}, {"max_minutes": -1}):
        with pytest.raises(ValidationError):
            StepPolicy(**({"weight": 0.1, "min_feedback": 60, "max_minutes": 30.0} | bad))
    for field, value in (("alpha", 0.0), ("alpha", 0.6), ("tau", 0.0), ("max_regression", -0.01)):
        with pytest.raises(ValidationError):
            AnalysisPolicy(**{field: value})
    with pytest.raises(ValidationError):
        AnalysisPolicy(alhpa=0.01)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        POLICY.alpha = 0.2  # type: ignore[misc]
    with pytest.raises(ValueError, match="corrections exceed"):
        SideSignals(feedback=3, corrections=4)


def test_rollout_budgets_tighten_by_name() -> None:
    section = {"steps": [s.model_dump() for s in DEFAULT_STEPS], "analysis": POLICY.model_dump()}
    old = json.dumps({"rollout": section}).encode()

    def loosenings(**analysis: object) -> list[str]:
        new = {"rollout": section | {"analysis": POLICY.model_dump() | analysis}}
        return budget_loosenings(old, json.dumps(new).encode())

    assert loosenings(max_error_rate=0.01, decision_floor=30) == []
    assert loosenings(max_error_rate=0.2) != []
    assert loosenings(max_regression=0.05) != []
    assert loosenings(alpha=0.01) != [] and loosenings(alpha=0.1) != []  # fixed for writers


def test_the_bench_runs_a_few_rollouts(tmp_path: Path) -> None:
    runs = simulate((0.93, 0.73), 3, seed=1)
    assert [r.outcome for r in runs["msprt"]] == ["abort"] * 3
    assert {len(runs[m]) for m in ("fixed", "argo", "argo-wide", "naive")} == {3}
    out = tmp_path / "rollout_sim.json"
    assert bench_main(["--reps", "2", "--json", str(out)]) == 0
    scenarios = json.loads(out.read_text())["scenarios"]
    assert scenarios["A/A"]["methods"]["msprt"]["n"] == 2
