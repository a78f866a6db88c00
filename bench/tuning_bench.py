"""Release-tuning bench: the evaluations the Tuner's CMA-ES study takes on a release's
params, against pycma's own synchronous ``CMAEvolutionStrategy`` on the same objective.

The objective is what ``tune_release`` maximises after the ``runner_strategies/ensemble``
template's release: dev accuracy of that state as a function of every param it declares
(v0.1.0's four and the template's ``ensemble_weight`` / ``ensemble_gate``). On a task
without out-of-scope rows only the weight and the gate move it (the greedy arm is the
ensemble; nothing abstains), as on the Tuner's real run. The two heads' dev decision
values are scored once (trained heads from the machine cache, see ``bench.templates``), so
an evaluation is a few milliseconds and identical for both optimizers; the mix is checked
against the template's own ``ensemble_scores`` before anything is counted.

Counted: evaluations until the running best is within 0.001 of the best any run found
(over every seed and method, at the same budget); our ``Study`` told one result at a time
(as ``tune_release`` does) and with 4 evaluations in flight completed in random order (as
parallel clients of ``cma_ask``/``cma_tell`` would); pycma with the same start, sigma0
and population, its own ``bounds``. Held-out is never read.

    python -m bench.tuning_bench [--task banking77] [--seeds 10] [--budget 240]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ratchet import datasets
from ratchet.objects import FilesystemObjectStore
from services.tuner.algorithms.cmaes import Param, Study
from tests.examples.conftest import template_module, template_package

from .templates import ENSEMBLE, LINEAR, MINILM, code_root, in_scope

WITHIN = 0.001
Trajectory = list[float]  # the best dev accuracy after each evaluation
Accuracy = Callable[[dict[str, float]], float]


def declared_params() -> list[Param]:
    """The params the ensemble release declares, at its values, sorted as the study sorts."""
    state = json.loads(
        (Path(__file__).resolve().parents[1] / "state/active.state.json").read_text()
    )
    template, _ = template_package(ENSEMBLE, "ensemble")
    params = {**state["data"]["params"], **template.state_patch["params"]}
    return [Param(n, p["low"], p["high"], p["value"]) for n, p in sorted(params.items())]


def dev_scores(
    root: Path,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int_], Any]:
    """The linear and MiniLM heads' dev decision values, the truth, and a router for checks."""
    store = FilesystemObjectStore(root.parent / "fleet")  # empty: the machine cache or train
    _, linear_module = template_module(LINEAR, "services/runner/agent/linear.py")
    _, embedding = template_package(MINILM, "embedding")
    linear_head = linear_module.LinearCache(store, root).get()
    minilm_head = embedding.MiniLMCache(store, root).get()
    labels = datasets.labels(root)
    dev = in_scope(root, "dev")
    by_linear = np.stack([linear_head.scores(e.text) for e in dev])
    by_minilm = np.stack([minilm_head.scores(e.text) for e in dev])
    truth = np.array([labels.index(e.intent) for e in dev])
    heads = SimpleNamespace(linear=linear_head, minilm=minilm_head, dev=dev, labels=labels)
    return by_linear, by_minilm, truth, heads


def objective(
    by_linear: NDArray[np.float64], by_minilm: NDArray[np.float64], truth: NDArray[np.int_]
) -> Accuracy:
    """Dev accuracy of the ensemble arm at a point's ``ensemble_weight`` and ``ensemble_gate``."""
    top = np.sort(by_linear, axis=1)
    margin = top[:, -1] - top[:, -2]

    def accuracy(point: dict[str, float]) -> float:
        weight, gate = point["ensemble_weight"], point["ensemble_gate"]
        mixed = np.where(
            (margin >= gate)[:, None], by_linear, weight * by_linear + (1 - weight) * by_minilm
        )
        return float(np.mean(mixed.argmax(1) == truth))

    return accuracy


def check_against_template(accuracy: Accuracy, heads: Any, count: int = 200) -> None:
    """The vectorised mix answers as the template's ``ensemble_scores`` on ``count`` messages."""
    _, module = template_package(ENSEMBLE, "ensemble")
    for weight, gate in ((0.4, 0.7), (0.8, 0.2)):
        params = SimpleNamespace(
            ensemble_weight=SimpleNamespace(value=weight), ensemble_gate=SimpleNamespace(value=gate)
        )
        router = SimpleNamespace(
            linear=heads.linear, minilm=heads.minilm, state=SimpleNamespace(params=params)
        )
        dev = heads.dev[:count]
        right = sum(
            heads.labels[int(np.argmax(module.ensemble_scores(router, e.text)))] == e.intent
            for e in dev
        )
        truth = np.array([heads.labels.index(e.intent) for e in dev])
        sub = objective(heads.by_linear[:count], heads.by_minilm[:count], truth)
        mine = sub({"ensemble_weight": weight, "ensemble_gate": gate})
        assert abs(mine - right / len(dev)) < 1e-9, (weight, gate, mine, right / len(dev))


def running_best(values: Sequence[float]) -> Trajectory:
    return list(np.maximum.accumulate(np.asarray(values, dtype=float)))


def study_run(
    accuracy: Accuracy, params: list[Param], seed: int, budget: int, pending: int
) -> Trajectory:
    """Our study, ``pending`` evaluations in flight, one at random completing each step."""
    study = Study(params, sigma0=0.3, seed=seed)
    rng = np.random.default_rng(1000 + seed)
    inflight = [study.ask() for _ in range(pending)]
    seen = []
    for _ in range(budget):
        candidate = inflight.pop(int(rng.integers(len(inflight))))
        value = accuracy(candidate.params)
        study.tell(candidate.id, 1 - value)
        seen.append(value)
        inflight.append(study.ask())
    return running_best(seen)


def pycma_run(
    accuracy: Accuracy, params: list[Param], seed: int, budget: int, popsize: int
) -> Trajectory:
    """pycma's own ask/tell in real units with its ``bounds``: the same start and sigma0."""
    low, high = [p.low for p in params], [p.high for p in params]
    span = np.subtract(high, low)
    opts: dict[str, Any] = {
        "bounds": [low, high],
        "CMA_stds": span / span.max(),  # sigma0 relative to each range, as in a Study
        "popsize": popsize,
        "verbose": -9,
        "seed": np.nan,
        "randn": np.random.RandomState(seed).randn,
    }
    seen: list[float] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import cma  # type: ignore[import-untyped]

        es = cma.CMAEvolutionStrategy([p.x0 for p in params], 0.3 * span.max(), opts)
        while len(seen) < budget:
            xs = es.ask()
            values = [
                accuracy({p.name: float(v) for p, v in zip(params, x, strict=True)}) for x in xs
            ]
            seen += values
            es.tell(xs, [1 - v for v in values])
    return running_best(seen[:budget])


def reached(trajectory: Trajectory, target: float) -> int | None:
    """Evaluations until the running best reached ``target`` (None: not within the budget)."""
    for index, best in enumerate(trajectory):
        if best >= target - 1e-12:
            return index + 1
    return None


def summary(runs: list[Trajectory], target: float, budget: int) -> dict[str, Any]:
    counts = [reached(r, target) for r in runs]
    hit = [c for c in counts if c is not None]
    return {
        "evaluations": counts,
        "median": statistics.median(c if c is not None else budget for c in counts),
        "reached": f"{len(hit)}/{len(counts)}",
        "best_at_budget": round(statistics.mean(r[-1] for r in runs), 4),
    }


def compare(accuracy: Accuracy, params: list[Param], seeds: int, budget: int) -> dict[str, Any]:
    """Every method from ``params``' start over ``seeds`` seeds; evaluations to the target."""
    popsize = Study(params).popsize
    methods: dict[str, list[Trajectory]] = {
        "study (1 in flight)": [study_run(accuracy, params, s, budget, 1) for s in range(seeds)],
        "study (4 in flight)": [study_run(accuracy, params, s, budget, 4) for s in range(seeds)],
        "pycma (synchronous)": [
            pycma_run(accuracy, params, s, budget, popsize) for s in range(seeds)
        ],
    }
    best = max(r[-1] for runs in methods.values() for r in runs)
    found = {name: summary(runs, best - WITHIN, budget) for name, runs in methods.items()}
    exact = {name: summary(runs, best, budget) for name, runs in methods.items()}
    ours, theirs = ("study (1 in flight)", "pycma (synchronous)")
    return {
        "dev_at_start": round(accuracy({p.name: p.x0 or 0.0 for p in params}), 4),
        "best_found": round(best, 4),
        "target": round(best - WITHIN, 4),
        "methods": found,
        "ratio_study_to_pycma": round(found[ours]["median"] / found[theirs]["median"], 3),
        "to_the_best_found": exact,
        "ratio_to_the_best_found": round(exact[ours]["median"] / exact[theirs]["median"], 3),
    }


def run(task: str, seeds: int, budget: int) -> dict[str, Any]:
    """From the release's own values (what ``tune_release`` does), and from the box's centre
    (an untuned template: where the optimizers differ more)."""
    with tempfile.TemporaryDirectory(prefix="ratchet-tuning-") as scratch:
        root = code_root(task, Path(scratch))
        by_linear, by_minilm, truth, heads = dev_scores(root)
    heads.by_linear, heads.by_minilm = by_linear, by_minilm
    accuracy = objective(by_linear, by_minilm, truth)
    check_against_template(accuracy, heads)
    params = declared_params()
    centre = [Param(p.name, p.low, p.high, (p.low + p.high) / 2) for p in params]
    return {
        "task": task,
        "dev_rows": len(truth),
        "params": [p.name for p in params],
        "popsize": Study(params).popsize,
        "seeds": seeds,
        "budget": budget,
        "from_release_values": compare(accuracy, params, seeds, budget),
        "from_box_centre": compare(accuracy, centre, seeds, budget),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="banking77")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=240)
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    report = run(args.task, args.seeds, args.budget)
    print(json.dumps(report, indent=2))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
