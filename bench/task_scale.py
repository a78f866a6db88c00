"""Task scale benchmark: load, train and route as a task grows to 150,000 rows and 300 labels.

Synthetic intent tasks (300 labels; 10k, 50k and 150k training rows) are
written as task folders in a temp dir, then each is loaded (``load_task``:
read and fully checked), the default agent is trained on its train split as
the Runner does (``services.runner.agent.model.train``), and the trained
router answers single calls (``IntentRouter.predict``) for each arm of the
project's first state. BANKING77 (77 labels) is measured the same way. Load
and training times are the best of ``--repeat`` runs: on a shared machine,
noise only ever adds time.

Each label owns four keywords; a row holds one or two of them (half the time
also one of another label) among filler words drawn by a Zipf law from 40,000,
so the task is learnable (the accuracy columns) and its vocabulary grows with
its rows as a real corpus's does.

    python -m bench.task_scale [--sizes 10000 50000 150000] [--calls 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import csv
import gc
import itertools
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ratchet.tasks import Task, load_task
from services.runner.agent.model import to_bytes, train
from services.runner.agent.router import IntentRouter
from services.runner.agent.state import AgentState, parse

from .stats import percentile

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")
LABELS = 300
TEST_ROWS = 3000
SIZES = (10_000, 50_000, 150_000)
FILLER_WORDS = 40_000


def _word(rng: random.Random) -> str:
    syllables = ("ka", "lo", "mi", "re", "tu", "sa", "ne", "po", "vi", "da", "ge", "ru", "zo")
    return "".join(rng.choice(syllables) for _ in range(rng.randint(2, 5)))


def _vocabulary(rng: random.Random, size: int) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add(_word(rng))
    ordered = sorted(words)
    rng.shuffle(ordered)
    return ordered


def write_task(folder: Path, rows: int, labels: int = LABELS, seed: int = 7) -> None:
    """A learnable synthetic intent task of ``rows`` training rows (deterministic).

    Filler words follow a Zipf law over 40,000 words, so the vocabulary grows
    with the rows as a real corpus's does.
    """
    rng = random.Random(seed)
    vocabulary = _vocabulary(rng, labels * 4 + FILLER_WORDS)
    keywords = vocabulary[: labels * 4]
    filler = vocabulary[labels * 4 :]
    weights = list(itertools.accumulate(1 / rank for rank in range(1, len(filler) + 1)))
    names = [f"intent_{i:03d}" for i in range(labels)]
    seen: set[str] = set()

    def row(label: int) -> str:
        while True:
            words = rng.sample(keywords[label * 4 : label * 4 + 4], rng.randint(1, 2))
            if rng.random() < 0.5:  # a keyword of another label: some confusion
                words.append(keywords[rng.randrange(len(keywords))])
            words += rng.choices(filler, cum_weights=weights, k=rng.randint(4, 12))
            rng.shuffle(words)
            text = " ".join(words)
            if text not in seen:
                seen.add(text)
                return text

    folder.mkdir(parents=True)
    for name, count in (("train.csv", rows), ("test.csv", TEST_ROWS)):
        with (folder / name).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["text", "label"])
            writer.writerows((row(i % labels), names[i % labels]) for i in range(count))
    (folder / "task.toml").write_text(
        f'name = "synthetic-{rows}"\nkind = "intent"\n'
        f'description = "{labels} synthetic intents, {rows} training rows"\n'
    )


def first_state() -> AgentState:
    document = json.loads((ROOT / "state" / "active.state.json").read_text())
    return parse(document["data"])


@dataclass(frozen=True)
class Timing:
    wall_s: float
    cpu_s: float  # this process's CPU time: what other processes on the machine barely move


def best_of(repeat: int, work: Callable[[], T]) -> tuple[T, Timing]:
    """The result of ``work`` and its fastest wall and CPU times over ``repeat`` runs:
    on a shared machine, noise only ever adds time."""
    walls, cpus = [], []
    for _ in range(repeat):
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        result = work()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return result, Timing(min(walls), min(cpus))


def measure(task: Task, load: Timing, calls: int, repeat: int) -> dict[str, Any]:
    """Training time of the default agent, then route latency per arm and accuracy."""
    state = first_state()
    examples = task.examples("train")
    model, training = best_of(repeat, lambda: train(examples, task.labels, state.features))
    # The Runner caches what it trained in the object store (``load_or_train``).
    artifact, cache = best_of(1, lambda: to_bytes(model, state.features))
    router = IntentRouter(model, state)
    heldout = task.examples("heldout")  # a task folder of the bench: test.csv is there
    texts = [e.text for e in heldout]
    result: dict[str, Any] = {
        "task": task.name,
        "labels": len(task.labels),
        "train_rows": len(examples),
        "rows_in_train_csv": len(task.train_rows),
        "load_s": round(load.wall_s, 3),
        "load_cpu_s": round(load.cpu_s, 3),
        "train_s": round(training.wall_s, 3),
        "train_cpu_s": round(training.cpu_s, 3),
        "cache_s": round(cache.wall_s, 3),
        "artifact_mb": round(len(artifact) / 1e6, 1),
        "vocabulary": len(model.vocabulary),
        "model_mb": round((model.centroids.nbytes + model.examples.data.nbytes) / 1e6, 1),
    }
    for arm in state.strategy.arms:
        latencies = []
        right = 0
        for i in range(calls):
            example = heldout[i % len(texts)]
            began = time.perf_counter()
            prediction = router.predict(example.text, arm)
            latencies.append((time.perf_counter() - began) * 1000)
            right += prediction.intent == example.intent
        result[f"{arm}_p50_ms"] = round(percentile(latencies, 50), 3)
        result[f"{arm}_p95_ms"] = round(percentile(latencies, 95), 3)
        result[f"{arm}_accuracy"] = round(right / calls, 3)
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def run(sizes: tuple[int, ...], calls: int, repeat: int) -> dict[str, Any]:
    results = []
    task, timing = best_of(repeat, lambda: load_task(ROOT / "tasks" / "banking77"))
    results.append(measure(task, timing, calls, repeat))
    with tempfile.TemporaryDirectory(prefix="ratchet-task-scale-") as tmp:
        for size in sizes:
            folder = Path(tmp) / f"synthetic-{size}"
            write_task(folder, size)
            task, timing = best_of(repeat, lambda: load_task(folder))  # noqa: B023
            results.append(measure(task, timing, calls, repeat))
            del task
    synthetic = [r for r in results if r["labels"] == LABELS]
    base = synthetic[0] if synthetic else None
    growth = {
        f"{r['rows_in_train_csv'] // 1000}k/{base['rows_in_train_csv'] // 1000}k": {
            "rows": round(r["rows_in_train_csv"] / base["rows_in_train_csv"], 1),
            "load_cpu": round(r["load_cpu_s"] / base["load_cpu_s"], 1),
            "train_cpu": round(r["train_cpu_s"] / base["train_cpu_s"], 1),
        }
        for r in synthetic[1:]
        if base is not None
    }
    return {"results": results, "growth": growth, "calls_per_arm": calls, "repeat": repeat}


def markdown(outcome: dict[str, Any]) -> str:
    head = (
        "| task | labels | rows in train.csv | load s (CPU s) | train s (CPU s) | cache s (MB) "
        "| vocabulary | centroid p50/p95 ms | blend p50/p95 ms | accuracy (centroid/blend) "
        "| peak RSS MB |"
    )
    lines = [head, "|" + "---|" * 11]
    for r in outcome["results"]:
        cells = [
            r["task"],
            r["labels"],
            f"{r['rows_in_train_csv']:,}",
            f"{r['load_s']} ({r['load_cpu_s']})",
            f"{r['train_s']} ({r['train_cpu_s']})",
            f"{r['cache_s']} ({r['artifact_mb']})",
            f"{r['vocabulary']:,}",
            f"{r['centroid_p50_ms']}/{r['centroid_p95_ms']}",
            f"{r['blend_p50_ms']}/{r['blend_p95_ms']}",
            f"{r['centroid_accuracy']}/{r['blend_accuracy']}",
            r["peak_rss_mb"],
        ]
        lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    lines.append("")
    lines.append("| growth | rows | load CPU time | training CPU time |")
    lines.append("|---|---|---|---|")
    for name, ratio in outcome["growth"].items():
        lines.append(
            f"| {name} | {ratio['rows']}x | {ratio['load_cpu']}x | {ratio['train_cpu']}x |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3, help="Best of this many loads/trainings.")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "task_scale.json")
    args = parser.parse_args()
    outcome = run(tuple(args.sizes), args.calls, args.repeat)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(outcome, indent=2))
    print(json.dumps(outcome, indent=2))
    print(markdown(outcome))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
