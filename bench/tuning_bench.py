"""Release-tuning bench: the evaluations the Tuner's CMA-ES study takes on a release's
params, against pycma's own synchronous ``CMAEvolutionStrategy`` on the same objective.

The objective is what ``tune_release`` maximises after the ``runner_strategies/ensemble``
template's release: dev accuracy of that state as a function of every param it declares
(v0.1.0's four and those of the template's ``state_patch``: ``ensemble_w_linear``,
``ensemble_w_minilm``, ``ensemble_gate_linear``). With the mpnet head in the machine
cache, also after ``runner_strategies/mpnet_embed`` (its patch adds ``ensemble_w_mpnet``
and ``ensemble_gate_minilm``: three members). On a task without out-of-scope rows only
the ensemble params move it (the greedy arm is the ensemble; nothing abstains), as on the
Tuner's real run.

Each member head's dev decision values are scored once (trained heads from the machine
cache, see ``bench.templates``; the embedding heads' dev matrices are cached there too,
keyed by the head and the dev rows), so an evaluation is a few milliseconds and identical
for both optimizers. The mix follows the template's ``ensemble_scores``: members with a
weight above 0, cheapest first; after a member (not the last), a message whose mix so far
has its top two at least that member's gate apart is answered by it. It is checked against
``ensemble_scores`` itself, on the same matrices, before anything is counted.

Counted: evaluations until the running best is within 0.001 of the best any run found
(over every seed and method, at the same budget); our ``Study`` told one result at a time
(as ``tune_release`` does) and with 4 evaluations in flight completed in random order (as
parallel clients of ``cma_ask``/``cma_tell`` would); pycma with the same start, sigma0
and population, its own ``bounds``. Held-out is never read.

    python -m bench.tuning_bench [--task banking77] [--seeds 10] [--budget 240]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import statistics
import sys
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ratchet import datasets
from ratchet.objects import FilesystemObjectStore, ObjectStore
from ratchet.objects.artifacts import Artifacts
from services.tuner.algorithms.cmaes import Param, Study
from tests.examples.conftest import catalog, router_of, template_module, template_package

from .templates import ENSEMBLE, LINEAR, MINILM, MPNET, code_root, in_scope

WITHIN = 0.001
CHECKED = 300  # dev rows the vectorised mix is checked on against ``ensemble_scores``
Trajectory = list[float]  # the best dev accuracy after each evaluation
Accuracy = Callable[[dict[str, float]], float]
Matrices = dict[str, NDArray[np.float64]]  # a member arm's dev decision values (rows, labels)


def declared_params(*templates: str) -> list[Param]:
    """The params the release of ``templates`` (applied in order over v0.1.0) declares, at
    their values, sorted as the study sorts them."""
    state = json.loads(
        (Path(__file__).resolve().parents[1] / "state/active.state.json").read_text()
    )
    params = dict(state["data"]["params"])
    for name in templates:
        params.update(catalog().templates[name].state_patch.get("params", {}))
    return [Param(n, p["low"], p["high"], p["value"]) for n, p in sorted(params.items())]


def _encoder_scores(head: Any, texts: list[str], artifacts: Artifacts, key: str) -> Any:
    """An embedding head's decision values for ``texts`` (batched), cached under ``key``."""
    cached = artifacts.get(key)
    if cached is not None:
        with np.load(io.BytesIO(cached), allow_pickle=False) as arrays:
            return np.asarray(arrays["scores"], dtype=np.float64)
    scores = np.asarray(head.scores_of(head.encoder.encode(texts)), dtype=np.float64)
    buffer = io.BytesIO()
    np.savez(buffer, scores=scores)
    artifacts.put_all(key, buffer.getvalue())
    return scores


def _embedding_head(
    root: Path, store: ObjectStore, module: ModuleType, encoder: Callable[[], Any], peek: bool
) -> tuple[Any, str] | None:
    """The head over ``encoder`` and its key; with ``peek``, None unless already trained."""
    labels = datasets.labels(root)
    scope = set(labels)
    examples = tuple(e for e in datasets.load(root, "train") if e.intent in scope)
    key = module.head_key(encoder(), examples)
    if peek and Artifacts(store).get(key) is None:
        return None
    return module.EmbeddingCache(store, root, encoder).get(), key


def dev_scores(root: Path, with_mpnet: bool) -> tuple[Matrices, NDArray[np.int_], str | None]:
    """Each member's dev decision values, the truth, and why mpnet is left out (if it is)."""
    store = FilesystemObjectStore(root.parent / "fleet")  # empty: the machine cache or train
    _, linear_module = template_module(LINEAR, "services/runner/agent/linear.py")
    _, embedding = template_package(MINILM, "embedding")
    labels = datasets.labels(root)
    dev = in_scope(root, "dev")
    texts = [e.text for e in dev]
    rows = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    linear_head = linear_module.LinearCache(store, root).get()
    matrices: Matrices = {"linear": np.stack([linear_head.scores(t) for t in texts])}
    encoders: dict[str, Callable[[], Any]] = {"minilm": embedding.shared_encoder}
    skipped = None
    if with_mpnet:
        _, mpnet_module = template_package(MPNET, "mpnet")
        encoders["mpnet"] = mpnet_module.shared_mpnet
    for arm, encoder in encoders.items():
        found = _embedding_head(root, store, embedding, encoder, peek=arm == "mpnet")
        if found is None:
            skipped = f"no {arm} head for this task in the machine cache (bench.templates)"
            continue
        head, key = found
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        cache_key = f"bench-tuning/{arm}/{digest}/{rows}.npz"
        matrices[arm] = _encoder_scores(head, texts, Artifacts(store), cache_key)
    truth = np.array([labels.index(e.intent) for e in dev])
    return matrices, truth, skipped


def top_margin(scores: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per row, the gap between the best and the runner-up score (the template's margin)."""
    top2 = np.partition(scores, -2, axis=1)[:, -2:]
    gap: NDArray[np.float64] = top2[:, 1] - top2[:, 0]
    return gap


def members(point: dict[str, float]) -> list[tuple[str, float]]:
    """The template's members at ``point``: weight above 0, cheapest first."""
    _, module = template_package(ENSEMBLE, "ensemble")
    declared = {name: SimpleNamespace(value=value) for name, value in point.items()}
    found: list[tuple[str, float]] = module.members(SimpleNamespace(model_extra=declared))
    return found


def objective(matrices: Matrices, truth: NDArray[np.int_]) -> Accuracy:
    """Dev accuracy of the ensemble arm at a point's weights and gates."""

    def accuracy(point: dict[str, float]) -> float:
        return float(np.mean(answers(matrices, point) == truth))

    return accuracy


def answers(matrices: Matrices, point: dict[str, float]) -> NDArray[np.int_]:
    """Each row's intent index as ``ensemble_scores`` would pick it at ``point``."""
    mixed = members(point)
    rows = len(next(iter(matrices.values())))
    chosen = np.full(rows, -1)
    undecided = np.ones(rows, dtype=bool)
    mix = np.zeros_like(next(iter(matrices.values())))
    total = 0.0
    for position, (arm, weight) in enumerate(mixed):
        mix += weight * matrices[arm]
        total += weight
        current = mix / total
        gate = point.get(f"ensemble_gate_{arm}")
        if position == len(mixed) - 1:
            stop = undecided
        elif gate is None:
            continue
        else:
            stop = undecided & (top_margin(current) >= gate)
        chosen[stop] = current[stop].argmax(1)
        undecided &= ~stop
    return chosen


def check_against_template(matrices: Matrices, points: list[dict[str, float]]) -> None:
    """The vectorised mix picks what the template's ``ensemble_scores`` picks, row by row,
    on the first ``CHECKED`` dev rows at each of ``points`` (a row's index is its text)."""
    _, module = template_package(ENSEMBLE, "ensemble")
    sub = {arm: m[:CHECKED] for arm, m in matrices.items()}
    heads = {arm: (lambda text, m=m: m[int(text)]) for arm, m in sub.items()}
    for point in points:
        router = router_of(heads, point)
        theirs = [int(np.argmax(module.ensemble_scores(router, str(i)))) for i in range(CHECKED)]
        mine = answers(sub, point)
        assert list(mine) == theirs, point


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


def tuning(
    matrices: Matrices, truth: NDArray[np.int_], templates: tuple[str, ...], seeds: int, budget: int
) -> dict[str, Any]:
    """The comparison on the release of ``templates``: from its own values (what
    ``tune_release`` does), and from the box's centre (an untuned template: where the
    optimizers differ more)."""
    params = declared_params(*templates)
    centre = [Param(p.name, p.low, p.high, (p.low + p.high) / 2) for p in params]
    rng = np.random.default_rng(0)
    points = [{p.name: p.x0 or 0.0 for p in ps} for ps in (params, centre)]
    points.append({p.name: float(rng.uniform(p.low, p.high)) for p in params})
    check_against_template(matrices, points)
    accuracy = objective(matrices, truth)
    return {
        "members": [arm for arm, _ in members(points[0])],
        "params": [p.name for p in params],
        "popsize": Study(params).popsize,
        "from_release_values": compare(accuracy, params, seeds, budget),
        "from_box_centre": compare(accuracy, centre, seeds, budget),
    }


def run(task: str, seeds: int, budget: int, with_mpnet: bool = True) -> dict[str, Any]:
    """The two-member release, then the three-member one when the mpnet head is cached."""
    with tempfile.TemporaryDirectory(prefix="ratchet-tuning-") as scratch:
        root = code_root(task, Path(scratch))
        matrices, truth, skipped = dev_scores(root, with_mpnet)
    report: dict[str, Any] = {
        "task": task,
        "dev_rows": len(truth),
        "seeds": seeds,
        "budget": budget,
    }
    two = {arm: matrices[arm] for arm in ("linear", "minilm")}
    report[ENSEMBLE] = tuning(two, truth, (ENSEMBLE,), seeds, budget)
    if "mpnet" in matrices:
        report[MPNET] = tuning(matrices, truth, (ENSEMBLE, MPNET), seeds, budget)
    else:
        report[MPNET] = {"skipped": skipped or "--no-mpnet"}
    return report


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="banking77")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=240)
    parser.add_argument("--no-mpnet", action="store_true", help="the two-member release only")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    report = run(args.task, args.seeds, args.budget, with_mpnet=not args.no_mpnet)
    print(json.dumps(report, indent=2))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
