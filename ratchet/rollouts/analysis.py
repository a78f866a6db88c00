"""A rollout step's verdict from live signals: canary against stable, no I/O.

The controller calls :func:`decide` after every new signal with the counts each side
has gathered since the rollout began (cumulative over its steps: one always-valid
test for the whole rollout, so its alpha is spent once) and the seconds since the
current step began. ``bench/rollout_sim.py`` calls the same function on simulated
streams.

The rule, in order:

1. **Guardrails** abort at once: the canary's error rate above ``max_error_rate``
   or its p95 above ``max_p95_latency_ms``, once it has ``guardrail_floor`` calls.
2. **Abort evidence** (:mod:`ratchet.rollouts.sequential`): once both sides have
   ``decision_floor`` feedbacks, the always-valid p-value for "the canary's
   correction rate exceeds stable's by more than ``max_regression``"; once both
   have ``decision_floor`` rewards, likewise for "its mean reward is lower by more
   than ``max_reward_drop``". Abort when one falls below its share of ``alpha``
   (split evenly over the tests that ran: Bonferroni, so together they abort an
   equal canary at most ``alpha`` of the time).
3. **Pass**: the canary has ``step.min_feedback`` feedbacks (cumulative) and the
   correction test has run without abort evidence; or, with ``early_pass``, every
   test that ran already shows non-inferiority (the confidence sequence's bound
   clears the margin on the good side, i.e. the mirror test rejects at its alpha).
   A pass is ``next_step``, or ``promote`` on the last step.
4. **Inconclusive** when ``elapsed_s`` exceeds ``step.max_minutes``: held for a person.
5. Otherwise **continue**.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ratchet.rollouts.sequential import lower_bound, p_greater, p_less, upper_bound

Outcome = Literal["continue", "next_step", "promote", "abort", "inconclusive"]
AnalysisValue = float | int | str | None


@dataclass(frozen=True, slots=True)
class SideSignals:
    """One side's live signals since the rollout began.

    ``feedback``: turns whose feedback carried a correct/incorrect verdict;
    ``corrections``: of those, the ones corrected (wrong); ``rewards``: turns with a
    numeric reward, their sum and sum of squares; ``calls``/``errors``: tool calls
    and the failed ones; ``p95_ms``: the calls' p95 latency (None before any).
    """

    feedback: int = 0
    corrections: int = 0
    rewards: int = 0
    reward_sum: float = 0.0
    reward_sq_sum: float = 0.0
    calls: int = 0
    errors: int = 0
    p95_ms: float | None = None

    def __post_init__(self) -> None:
        if min(self.feedback, self.corrections, self.rewards, self.calls, self.errors) < 0:
            raise ValueError("signal counts are never negative")
        if self.corrections > self.feedback or self.errors > self.calls:
            raise ValueError("corrections exceed feedback, or errors exceed calls")


class StepPolicy(BaseModel):
    """One step: the canary's share of new conversations, the canary feedbacks
    (cumulative over the rollout) that pass it, and its time limit."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    weight: float = Field(gt=0.0, le=1.0)
    min_feedback: int = Field(ge=1)
    max_minutes: float = Field(gt=0.0)


class AnalysisPolicy(BaseModel):
    """The test's settings. ``max_*`` may only be lowered and ``min_*`` only raised
    (tighter); the other fields are not monotone gates, so budgets keep them fixed."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    alpha: float = Field(default=0.05, gt=0.0, lt=0.5)
    max_regression: float = Field(default=0.0, ge=0.0, lt=1.0)
    max_reward_drop: float = Field(default=0.0, ge=0.0)
    tau: float = Field(default=0.05, gt=0.0, le=1.0)
    reward_tau: float = Field(default=0.1, gt=0.0)
    decision_floor: int = Field(default=30, ge=1)
    guardrail_floor: int = Field(default=50, ge=1)
    max_error_rate: float = Field(default=0.05, ge=0.0, le=1.0)
    max_p95_latency_ms: float = Field(default=250.0, gt=0.0)
    early_pass: bool = True


# Sized for a 5-point difference in correction rate (bench/rollout_sim.py): 95.8% of
# such drops are aborted, at a median of 321 canary feedbacks; a clearly better
# canary passes early, after about 80. A step's min_feedback counts the whole rollout.
DEFAULT_STEPS: tuple[StepPolicy, ...] = (
    StepPolicy(weight=0.1, min_feedback=100, max_minutes=60.0),
    StepPolicy(weight=0.5, min_feedback=1000, max_minutes=60.0),
)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a step's analysis says now, why (with the numbers), and the numbers."""

    outcome: Outcome
    reasons: list[str] = field(default_factory=list)
    analysis: dict[str, AnalysisValue] = field(default_factory=dict)


@dataclass(slots=True)
class _Test:
    """One sequential comparison's numbers: the abort and non-inferiority p-values."""

    name: str
    p_abort: float
    p_ok: float
    bound: float


def decide(
    stable: SideSignals,
    canary: SideSignals,
    step: StepPolicy,
    policy: AnalysisPolicy,
    *,
    elapsed_s: float,
    last_step: bool,
) -> Verdict:
    """The step's verdict now (see the module's docstring for the rule)."""
    analysis: dict[str, AnalysisValue] = {"weight": step.weight, "elapsed_s": round(elapsed_s, 3)}
    tripped = _guardrails(canary, policy, analysis)
    if tripped:
        return Verdict("abort", tripped, analysis)
    floor = policy.decision_floor
    ready = (min(stable.feedback, canary.feedback) >= floor) + (
        min(stable.rewards, canary.rewards) >= floor
    )
    alpha_each = policy.alpha / max(1, ready)
    analysis["alpha_each"] = alpha_each
    tests = _tests(stable, canary, policy, alpha_each, analysis)
    bad = [t for t in tests if t.p_abort < alpha_each]
    if bad:
        return Verdict("abort", [_abort_reason(t, analysis, alpha_each) for t in bad], analysis)
    passed: Outcome = "promote" if last_step else "next_step"
    ran = any(t.name == "correction" for t in tests)
    if ran and canary.feedback >= step.min_feedback:
        reason = (
            f"canary has {canary.feedback} feedbacks (step needs {step.min_feedback}) and "
            f"no evidence it is worse (correction p {analysis['correction_p_abort']:.3g} "
            f">= {alpha_each:.3g})"
        )
        return Verdict(passed, [reason], analysis)
    if policy.early_pass and tests and all(t.p_ok < alpha_each for t in tests):
        return Verdict(passed, [_early_reason(t, policy) for t in tests], analysis)
    if elapsed_s > step.max_minutes * 60.0:
        reason = (
            f"step ran {elapsed_s / 60.0:.1f} min (limit {step.max_minutes:g}) with "
            f"{canary.feedback} of {step.min_feedback} canary feedbacks and no verdict"
        )
        return Verdict("inconclusive", [reason], analysis)
    reason = f"collecting: canary has {canary.feedback} of {step.min_feedback} feedbacks"
    return Verdict("continue", [reason], analysis)


def _guardrails(
    canary: SideSignals, policy: AnalysisPolicy, out: dict[str, AnalysisValue]
) -> list[str]:
    """Reasons the canary breaks a hard limit (empty: none)."""
    out["canary_calls"] = canary.calls
    out["canary_error_rate"] = canary.errors / canary.calls if canary.calls else None
    out["canary_p95_ms"] = canary.p95_ms
    if canary.calls < policy.guardrail_floor:
        return []
    reasons = []
    rate = canary.errors / canary.calls
    if rate > policy.max_error_rate:
        reasons.append(
            f"canary error rate {rate:.2%} ({canary.errors}/{canary.calls} calls) "
            f"above max_error_rate {policy.max_error_rate:.2%}"
        )
    if canary.p95_ms is not None and canary.p95_ms > policy.max_p95_latency_ms:
        reasons.append(
            f"canary p95 {canary.p95_ms:.1f} ms above max_p95_latency_ms "
            f"{policy.max_p95_latency_ms:g} ({canary.calls} calls)"
        )
    return reasons


def _tests(
    stable: SideSignals,
    canary: SideSignals,
    policy: AnalysisPolicy,
    alpha: float,
    out: dict[str, AnalysisValue],
) -> list[_Test]:
    """The sequential comparisons both sides have enough samples for, their numbers in
    ``out``. The correction rate's variance is read from Laplace-smoothed rates, so a
    side with no corrections yet does not claim a variance of zero."""
    floor = policy.decision_floor
    out.update(stable_feedback=stable.feedback, canary_feedback=canary.feedback)
    out["stable_correction_rate"] = _ratio(stable.corrections, stable.feedback)
    out["canary_correction_rate"] = _ratio(canary.corrections, canary.feedback)
    tests = []
    if min(stable.feedback, canary.feedback) >= floor:
        diff = canary.corrections / canary.feedback - stable.corrections / stable.feedback
        var = _smoothed_var(canary) + _smoothed_var(stable)
        margin, tau = policy.max_regression, policy.tau
        test = _Test(
            "correction",
            p_greater(diff, var, margin, tau),
            p_less(diff, var, margin, tau),
            upper_bound(diff, var, alpha, tau),
        )
        out.update(correction_diff=diff, correction_p_abort=test.p_abort)
        out.update(correction_p_ok=test.p_ok, correction_diff_upper=test.bound)
        tests.append(test)
    out.update(stable_rewards=stable.rewards, canary_rewards=canary.rewards)
    out["stable_reward_mean"] = _ratio(stable.reward_sum, stable.rewards)
    out["canary_reward_mean"] = _ratio(canary.reward_sum, canary.rewards)
    if min(stable.rewards, canary.rewards) >= floor:
        diff = canary.reward_sum / canary.rewards - stable.reward_sum / stable.rewards
        var = _reward_var(canary) + _reward_var(stable)
        margin, tau = -policy.max_reward_drop, policy.reward_tau
        test = _Test(
            "reward",
            p_less(diff, var, margin, tau),
            p_greater(diff, var, margin, tau),
            lower_bound(diff, var, alpha, tau),
        )
        out.update(reward_diff=diff, reward_p_abort=test.p_abort)
        out.update(reward_p_ok=test.p_ok, reward_diff_lower=test.bound)
        tests.append(test)
    return tests


def _ratio(part: float, whole: int) -> float | None:
    return part / whole if whole else None


def _smoothed_var(side: SideSignals) -> float:
    """Variance of the side's correction rate, from (corrections + 1) / (feedback + 2)."""
    rate = (side.corrections + 1) / (side.feedback + 2)
    return rate * (1.0 - rate) / side.feedback


def _reward_var(side: SideSignals) -> float:
    """Variance of the side's mean reward: the sample variance over n, floored so a
    side whose rewards are all equal does not claim certainty."""
    n = side.rewards
    sample = max(0.0, (side.reward_sq_sum - side.reward_sum**2 / n) / (n - 1)) if n > 1 else 0.0
    return max(sample, 1e-4) / n


def _abort_reason(test: _Test, analysis: dict[str, AnalysisValue], alpha_each: float) -> str:
    if test.name == "correction":
        return (
            f"canary correction rate {analysis['canary_correction_rate']:.2%} vs stable "
            f"{analysis['stable_correction_rate']:.2%} ({analysis['canary_feedback']} and "
            f"{analysis['stable_feedback']} feedbacks): always-valid p {test.p_abort:.3g} < "
            f"{alpha_each:.3g} that it is worse by more than the allowed regression"
        )
    return (
        f"canary mean reward {analysis['canary_reward_mean']:.3f} vs stable "
        f"{analysis['stable_reward_mean']:.3f}: always-valid p {test.p_abort:.3g} < "
        f"{alpha_each:.3g} that it is lower by more than the allowed drop"
    )


def _early_reason(test: _Test, policy: AnalysisPolicy) -> str:
    if test.name == "correction":
        return (
            f"early pass: the correction-rate difference is at most {test.bound:+.2%} "
            f"(confidence sequence), within max_regression "
            f"{policy.max_regression:.2%}"
        )
    return (
        f"early pass: the mean-reward difference is at least {test.bound:+.3f} "
        f"(confidence sequence), within max_reward_drop {policy.max_reward_drop:g}"
    )
