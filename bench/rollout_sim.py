"""Rollout analysis on simulated feedback streams: ``ratchet.rollouts.analysis.decide``
against a fixed-horizon test, Argo-style threshold checks and naive repeated z-tests.

Each feedback goes to the canary with the current step's weight and is a correction
with probability 1 - accuracy of its side. The sequential policy calls ``decide``
after every feedback, exactly as the controller does (calls are skipped only while a
side is below ``decision_floor``, where ``decide`` can only answer continue: no
calls, so no guardrail, are simulated). The baselines walk the same random numbers
through the step schedule without analysis (a step passes at its ``min_feedback``):

- fixed: one pooled two-proportion z-test (one-sided, alpha) at the end;
- argo (20, 2 points, 3) and argo-wide (50, 5 points, 1): every ``interval`` canary
  feedbacks, the success rate of those is a measurement; it fails below stable's known
  accuracy minus ``margin``; abort when failures exceed ``failure_limit`` (an Argo
  AnalysisTemplate's ``successCondition`` and ``failureLimit``);
- naive: the same z-test after every feedback, abort the first time it rejects.

    python -m bench.rollout_sim [--reps 1000] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from ratchet.rollouts.analysis import DEFAULT_STEPS, AnalysisPolicy, SideSignals, StepPolicy, decide

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = {
    "A/A": (0.93, 0.93),
    "drop 5 points": (0.93, 0.88),
    "gain 5 points": (0.93, 0.98),
    "drop 20 points": (0.93, 0.73),
}


@dataclass(frozen=True)
class Argo:
    """A threshold baseline's settings: measure every ``interval`` canary feedbacks, fail
    below stable's accuracy minus ``margin``, abort past ``failure_limit`` failures."""

    interval: int = 20
    margin: float = 0.02
    failure_limit: int = 3


# Two AnalysisTemplates: a tight threshold on short windows, a loose one on long windows.
ARGO = {"argo": Argo(20, 0.02, 3), "argo-wide": Argo(50, 0.05, 1)}
METHODS = ("msprt", "fixed", *ARGO, "naive")


@dataclass
class Stream:
    """One rollout's random numbers, drawn on demand so every method reads the same ones."""

    rng: np.random.Generator
    assign: list[float] = field(default_factory=list)
    correct: list[float] = field(default_factory=list)

    def at(self, i: int) -> tuple[float, float]:
        while i >= len(self.assign):
            self.assign += self.rng.random(4096).tolist()
            self.correct += self.rng.random(4096).tolist()
        return self.assign[i], self.correct[i]


@dataclass(frozen=True)
class Result:
    """How one method ended one rollout: its outcome and the feedbacks it had read."""

    outcome: str
    total: int
    canary: int


def run_msprt(
    stream: Stream,
    accuracy: tuple[float, float],
    steps: tuple[StepPolicy, ...],
    policy: AnalysisPolicy,
) -> Result:
    """One rollout driven by ``decide``, one feedback a second."""
    counts = [
        0,
        0,
        0,
        0,
    ]  # stable feedback, stable corrections, canary feedback, canary corrections
    index, started = 0, 0
    for k, step in enumerate(steps):
        while True:
            u_side, u_correct = stream.at(index)
            side = 2 if u_side < step.weight else 0
            counts[side] += 1
            counts[side + 1] += u_correct >= accuracy[side // 2]
            index += 1
            if min(counts[0], counts[2]) < policy.decision_floor:
                continue
            verdict = decide(
                SideSignals(feedback=counts[0], corrections=counts[1]),
                SideSignals(feedback=counts[2], corrections=counts[3]),
                step,
                policy,
                elapsed_s=float(index - started),
                last_step=k == len(steps) - 1,
            )
            if verdict.outcome == "next_step":
                started = index
                break
            if verdict.outcome != "continue":
                return Result(verdict.outcome, index, counts[2])
    raise AssertionError("the last step ends in promote, abort or inconclusive")


def run_baselines(
    stream: Stream,
    accuracy: tuple[float, float],
    steps: tuple[StepPolicy, ...],
    policy: AnalysisPolicy,
) -> dict[str, Result]:
    """The fixed-horizon, Argo and naive decisions on the schedule without analysis."""
    z_crit = float(stats.norm.ppf(1.0 - policy.alpha))
    counts = [0, 0, 0, 0]
    found: dict[str, Result] = {}
    canary_ok: list[bool] = []
    failures = dict.fromkeys(ARGO, 0)
    index = 0
    for step in steps:
        while counts[2] < step.min_feedback or counts[0] < policy.decision_floor:
            u_side, u_correct = stream.at(index)
            side = 2 if u_side < step.weight else 0
            wrong = u_correct >= accuracy[side // 2]
            counts[side] += 1
            counts[side + 1] += wrong
            index += 1
            if side == 2:
                canary_ok.append(not wrong)
                for name, argo in ARGO.items():
                    if counts[2] % argo.interval or name in found:
                        continue
                    rate = sum(canary_ok[-argo.interval :]) / argo.interval
                    failures[name] += rate < accuracy[0] - argo.margin
                    if failures[name] > argo.failure_limit:
                        found[name] = Result("abort", index, counts[2])
            ready = min(counts[0], counts[2]) >= policy.decision_floor
            if ready and "naive" not in found and _z(counts, pooled=False) > z_crit:
                found["naive"] = Result("abort", index, counts[2])
    end = Result("promote", index, counts[2])
    found["fixed"] = Result("abort", index, counts[2]) if _z(counts, pooled=True) > z_crit else end
    return {name: found.get(name, end) for name in METHODS[1:]}


def _z(counts: list[int], *, pooled: bool) -> float:
    """Two-proportion z for "canary's correction rate is higher" (0 when undefined)."""
    ns, xs, nc, xc = counts[0], counts[1], counts[2], counts[3]
    ps, pc = xs / ns, xc / nc
    if pooled:
        p = (xs + xc) / (ns + nc)
        var = p * (1 - p) * (1 / ns + 1 / nc)
    else:
        var = ps * (1 - ps) / ns + pc * (1 - pc) / nc
    return (pc - ps) / math.sqrt(var) if var > 0 else 0.0


def simulate(
    accuracy: tuple[float, float],
    reps: int,
    *,
    seed: int,
    steps: tuple[StepPolicy, ...] = DEFAULT_STEPS,
    policy: AnalysisPolicy | None = None,
) -> dict[str, list[Result]]:
    """``reps`` rollouts of one scenario, every method on the same streams."""
    policy = policy or AnalysisPolicy()
    runs: dict[str, list[Result]] = {name: [] for name in METHODS}
    for rep in range(reps):
        streams = [Stream(np.random.default_rng([seed, rep])) for _ in range(2)]
        # Two copies of one stream: same seed, same numbers, each read at its own pace.
        runs["msprt"].append(run_msprt(streams[0], accuracy, steps, policy))
        for name, result in run_baselines(streams[1], accuracy, steps, policy).items():
            runs[name].append(result)
    return runs


def summarise(results: list[Result], outcome: str) -> dict[str, Any]:
    """The share of rollouts ending in ``outcome`` (Clopper-Pearson 95% CI) and the
    median feedbacks, total and canary, to that decision."""
    hits = [r for r in results if r.outcome == outcome]
    n, k = len(results), len(hits)
    low = float(stats.beta.ppf(0.025, k, n - k + 1)) if k else 0.0
    high = float(stats.beta.ppf(0.975, k + 1, n - k)) if k < n else 1.0
    return {
        "outcome": outcome,
        "rate": k / n,
        "ci95": [low, high],
        "n": n,
        "median_feedback": statistics.median(r.total for r in hits) if hits else None,
        "median_canary_feedback": statistics.median(r.canary for r in hits) if hits else None,
        "outcomes": {
            o: sum(r.outcome == o for r in results) for o in sorted({r.outcome for r in results})
        },
    }


def run(reps: int, seed: int, steps: tuple[StepPolicy, ...]) -> dict[str, Any]:
    """Every scenario and method: the share aborted (A/A, drop) or promoted (gain)."""
    policy = AnalysisPolicy()
    out: dict[str, Any] = {
        "reps": reps,
        "seed": seed,
        "steps": [s.model_dump() for s in steps],
        "policy": policy.model_dump(),
        "argo": {name: argo.__dict__ for name, argo in ARGO.items()},
        "scenarios": {},
    }
    for offset, (name, accuracy) in enumerate(SCENARIOS.items()):
        started = time.perf_counter()
        runs = simulate(accuracy, reps, seed=seed + offset, steps=steps, policy=policy)
        wanted = "promote" if accuracy[1] > accuracy[0] else "abort"
        out["scenarios"][name] = {
            "stable_accuracy": accuracy[0],
            "canary_accuracy": accuracy[1],
            "seconds": round(time.perf_counter() - started, 1),
            "methods": {method: summarise(runs[method], wanted) for method in METHODS},
        }
    return out


def report(results: dict[str, Any]) -> None:
    print("| scenario | method | decision | rate (95% CI) | median feedbacks (canary) |")
    print("|---|---|---|---|---|")
    for name, scenario in results["scenarios"].items():
        for method, s in scenario["methods"].items():
            ci = f"{s['rate']:.3f} ({s['ci95'][0]:.3f}-{s['ci95'][1]:.3f})"
            median = (
                "-"
                if s["median_feedback"] is None
                else f"{s['median_feedback']:g} ({s['median_canary_feedback']:g})"
            )
            print(f"| {name} | {method} | {s['outcome']} | {ci} | {median} |")


def parse_steps(text: str) -> tuple[StepPolicy, ...]:
    """``0.1:60,0.5:120`` -> steps of those weights and min feedbacks (60 minutes each)."""
    pairs = [part.split(":") for part in text.split(",")]
    return tuple(
        StepPolicy(weight=float(w), min_feedback=int(n), max_minutes=60.0) for w, n in pairs
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument(
        "--steps", type=parse_steps, default=DEFAULT_STEPS, help="e.g. 0.1:60,0.5:120"
    )
    parser.add_argument(
        "--json", type=Path, default=ROOT / "bench" / "results" / "rollout_sim.json"
    )
    args = parser.parse_args(argv)
    results = run(args.reps, args.seed, args.steps)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
