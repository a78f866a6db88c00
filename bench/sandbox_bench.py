"""Sandbox benchmark: the fast and full tiers with and without bubblewrap, side by side.

Issue #18 asks that the sandbox cost no more than 10% of a full tier. The
project's own tree (the default agent, its active state, BANKING77) is run
through ``ratchet.ci.tiers.run_tier`` with ``RATCHET_SANDBOX=none`` and with
the default (``auto``, which is bubblewrap where it works; the bench stops if
it is not), in one process: the mode's probe is cleared and run again before
each tier run, outside its timing, as an Architect probes once per process.

Both modes are compared warm: the candidate's volume (``/tmp/ratchet-volume-*``,
keyed by the tree, so both modes share it: pytest's cache, trained models)
and the machine cache (``~/.cache/ratchet/embeddings``) are filled by one
uncounted warm-up run of each tier in each mode. The counted rounds then
alternate the order (none, bwrap / bwrap, none / ...) so drift in the
machine's load hits both modes alike; each round gives one paired ratio
(sandboxed / unconfined), and the ratio's interval is its min and max over
the rounds.

Micro-costs beside the tiers, interleaved the same way:

- **start-up**: ``python -c pass`` plain and under the tier's bubblewrap
  command (:meth:`Confinement.command`), and through the harness
  (:func:`ratchet.ci.children.run`: orphan reaping, cgroup, disk watch) in
  each mode;
- **the full tier's steps**, timed apart in interleaved rounds of their own
  (``--phase-rounds``): starting the candidate's Runner and Tuner, the
  held-out calls (with their p50 and p95), stopping them, scoring the arms;
- **disk watch**: one walk of the candidate's volume
  (:func:`ratchet.sandbox.volume.usage`, which :func:`disk_watch` repeats
  every ``POLL_S`` while a candidate process runs), and the share of a core
  that makes.

The full tier runs on the whole held-out split unless ``--sample`` says how
many rows (every k-th, as ``CiOptions.heldout_sample`` does).

    python -m bench.sandbox_bench [--rounds 3] [--fast-rounds N] [--tiers fast full]
                                  [--sample N] [--starts 40]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ratchet import datasets
from ratchet.ci import children, full
from ratchet.ci.budgets import load_budgets
from ratchet.ci.candidate import candidate_home, candidate_services, prepare_home
from ratchet.ci.tiers import CiOptions, run_tier
from ratchet.sandbox import confine, sandbox_support
from ratchet.sandbox import support as sandbox_probe
from ratchet.sandbox import volume as volumes
from ratchet.state import StateDocument

from .stats import percentile

ROOT = Path(__file__).resolve().parents[1]
MODES = ("none", "auto")  # unconfined, then the default (bubblewrap)
BUDGET = 1.10  # issue #18: the sandbox may cost at most 10% of a full tier


def use(mode: str) -> str:
    """Switch this process to ``mode`` (probed afresh, outside any timing); its kind."""
    os.environ[sandbox_probe.MODE_ENV] = mode
    sandbox_probe._probed.cache_clear()
    found = sandbox_support()
    if mode == "auto" and not found.available:
        raise SystemExit(f"no sandbox to measure on this machine: {found.reason}")
    return found.kind


class ConfinedStarts:
    """Counts the candidate processes the harness starts (each one a bubblewrap start-up
    when sandboxed), by wrapping :func:`ratchet.ci.children._start_confined`."""

    def __init__(self) -> None:
        self.count = 0
        self._original = children._start_confined

        def counted(*args: Any, **kwargs: Any) -> children.Child:
            self.count += 1
            return self._original(*args, **kwargs)

        children._start_confined = counted


STARTS = ConfinedStarts()


def tier_run(tier: str, mode: str, options: CiOptions) -> dict[str, Any]:
    """One run of ``tier`` in ``mode``: wall seconds, verdict, p95 (full tier), and how
    many candidate processes it started."""
    use(mode)
    before = STARTS.count
    state = StateDocument.from_file_bytes(
        "state", (ROOT / "state" / "active.state.json").read_bytes()
    )
    started = time.perf_counter()
    report = run_tier(tier, state, ROOT, ROOT, options)
    return {
        "seconds": time.perf_counter() - started,
        "passed": report.passed,
        "reasons": report.reasons,
        "p95_latency_ms": report.metrics.get("p95_latency_ms"),
        "accuracy": report.metrics.get("heldout_accuracy", report.metrics.get("dev_accuracy")),
        "confined_starts": STARTS.count - before,
    }


def summarize(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Medians each way and the paired ratio (sandboxed / unconfined) per round."""
    ratios = [b["seconds"] / a["seconds"] for a, b in zip(runs["none"], runs["auto"], strict=True)]
    out: dict[str, Any] = {
        mode: {
            "median_s": statistics.median(r["seconds"] for r in rs),
            "seconds": [round(r["seconds"], 3) for r in rs],
            "passed": all(r["passed"] for r in rs),
            "reasons": sorted({reason for r in rs for reason in r["reasons"]}),
            "accuracy": rs[0]["accuracy"],
        }
        for mode, rs in runs.items()
    }
    for mode, rs in runs.items():
        p95s = [r["p95_latency_ms"] for r in rs if r["p95_latency_ms"] is not None]
        if p95s:
            out[mode]["p95_latency_ms"] = {"median": statistics.median(p95s), "rounds": p95s}
    out["ratio"] = {
        "median": statistics.median(ratios),
        "min": min(ratios),
        "max": max(ratios),
        "rounds": [round(r, 4) for r in ratios],
        "of_medians": out["auto"]["median_s"] / out["none"]["median_s"],
    }
    out["confined_starts"] = runs["auto"][0]["confined_starts"]
    return out


def start_up_share(results: dict[str, Any]) -> None:
    """What the tier's bubblewrap start-ups cost, as a share of its sandboxed time: the
    sandbox's fixed cost, measured apart from the tier's noise."""
    startup = results["startup"]
    extra_ms = startup["harness, bwrap"]["p50_ms"] - startup["harness, unconfined"]["p50_ms"]
    for r in results["tiers"].values():
        r["start_up_s"] = r["confined_starts"] * extra_ms / 1000
        r["start_up_share"] = r["start_up_s"] / r["auto"]["median_s"]


def measure_tiers(
    tiers: Sequence[str], rounds: dict[str, int], options: CiOptions
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for tier in tiers:
        for mode in MODES:  # warm-up, not counted: the volume's and the machine's caches
            warm = tier_run(tier, mode, options)
            print(f"{tier} warm-up {mode}: {warm['seconds']:.1f} s", flush=True)
        runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
        for index in range(rounds[tier]):
            for mode in MODES if index % 2 == 0 else MODES[::-1]:
                runs[mode].append(tier_run(tier, mode, options))
                print(f"{tier} round {index + 1} {mode}: {runs[mode][-1]['seconds']:.1f} s")
        results[tier] = summarize(runs)
    return results


def phase_run(mode: str, sample: int | None) -> dict[str, float]:
    """The full tier's steps timed apart (seconds; latencies in ms), as ``run_full`` runs
    them: start the Runner and Tuner, the held-out calls, stop them, score the arms."""
    use(mode)
    state = StateDocument.from_file_bytes(
        "state", (ROOT / "state" / "active.state.json").read_bytes()
    )
    examples = full.sample_of(datasets.load(ROOT, "heldout"), sample)
    marks = [time.perf_counter()]
    with candidate_home(ROOT) as home:
        prepare_home(home, ROOT, state)
        limits = load_budgets(ROOT).limits("full")
        with candidate_services(("runner", "tuner"), ROOT, home, limits) as services:
            marks.append(time.perf_counter())
            measured = full._run_within(300, services["runner"], services["tuner"], examples, 1)
            assert measured is not None, "the held-out calls ran out of time"
            marks.append(time.perf_counter())
        marks.append(time.perf_counter())
        full._arm_scores(state, ROOT, examples, measured["arms"])
        marks.append(time.perf_counter())
    steps = [later - earlier for earlier, later in itertools.pairwise(marks)]
    latencies = measured["latencies"]
    return dict(
        zip(("start", "calls", "stop", "arms"), steps, strict=True),
        p50_ms=statistics.median(latencies),
        p95_ms=percentile(latencies, 95),
    )


def full_tier_phases(rounds: int, sample: int | None) -> dict[str, Any]:
    """Where a full tier's time goes each way: medians of interleaved rounds."""
    runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    for index in range(rounds):
        for mode in MODES if index % 2 == 0 else MODES[::-1]:
            runs[mode].append(phase_run(mode, sample))
    return {
        mode: {key: statistics.median(r[key] for r in rs) for key in rs[0]}
        for mode, rs in runs.items()
    }


def timed_ms(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def startup_costs(times: int) -> dict[str, Any]:
    """``python -c pass`` plain, under bubblewrap, and through the harness each way (ms)."""
    use("auto")
    support = sandbox_support()
    assert support.bwrap is not None
    confinement = confine(ROOT)
    plain = [sys.executable, "-c", "pass"]
    env = confinement.environment()
    wrapped = confinement.command(support.bwrap, plain)

    def direct(args: list[str]) -> Callable[[], object]:
        return lambda: subprocess.run(args, env=env, cwd=ROOT, check=True)

    def harness(mode: str) -> Callable[[], object]:
        def call() -> object:
            use(mode)
            return children.run(plain, cwd=ROOT, confinement=confinement, check=True)

        return call

    actions = {
        "python -c pass": direct(plain),
        "bwrap python -c pass": direct(wrapped),
        "harness, unconfined": harness("none"),
        "harness, bwrap": harness("auto"),
    }
    samples: dict[str, list[float]] = {name: [] for name in actions}
    for action in actions.values():  # warm-up
        action()
    for _ in range(times):  # interleaved, so load hits every row alike
        for name, action in actions.items():
            samples[name].append(timed_ms(action))
    return {
        name: {"p50_ms": statistics.median(s), "p95_ms": percentile(s, 95), "n": len(s)}
        for name, s in samples.items()
    }


def disk_watch_cost(times: int = 20) -> dict[str, Any]:
    """One walk of the candidate's volume, as :func:`disk_watch` does every ``POLL_S``."""
    volume = volumes.path_for(ROOT)
    files = sum(len(names) for _, _, names in os.walk(volume))
    walls, cpus = [], []
    for _ in range(times):
        wall, cpu = time.perf_counter(), time.process_time()
        volumes.usage(volume)
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    cpu_ms = statistics.median(cpus)
    return {
        "volume_files": files,
        "volume_mb": volumes.usage(volume) / 2**20,
        "walk_p50_ms": statistics.median(walls),
        "walk_cpu_ms": cpu_ms,
        "poll_s": volumes.POLL_S,
        "core_share": cpu_ms / 1000 / volumes.POLL_S,
    }


def report(results: dict[str, Any]) -> int:
    print(f"\n{'tier':<6} {'unconfined s':>13} {'bwrap s':>9} {'ratio (min-max)':>22} verdict")
    verdict = 0
    for tier, r in results["tiers"].items():
        ratio = r["ratio"]
        ok = ratio["median"] <= BUDGET
        if tier == "full" and not ok:
            verdict = 1
        span = f"{ratio['median']:.3f} ({ratio['min']:.3f}-{ratio['max']:.3f})"
        print(
            f"{tier:<6} {r['none']['median_s']:>13.1f} {r['auto']['median_s']:>9.1f} "
            f"{span:>22} {'within' if ok else 'OVER'} {BUDGET:.2f}"
        )
        print(
            f"{'':<6} {r['confined_starts']} candidate processes: bubblewrap start-ups "
            f"{r['start_up_s'] * 1000:.0f} ms, {r['start_up_share']:.2%} of the tier"
        )
        if "p95_latency_ms" in r["none"]:
            print(
                f"{'':<6} p95 latency ms: unconfined {r['none']['p95_latency_ms']['median']:.2f}"
                f", bwrap {r['auto']['p95_latency_ms']['median']:.2f}"
            )
    print(f"\n{'start-up':<22} {'p50 ms':>8} {'p95 ms':>8}")
    for name, s in results["startup"].items():
        print(f"{name:<22} {s['p50_ms']:>8.1f} {s['p95_ms']:>8.1f}")
    if "full_phases" in results:
        print(
            f"\n{'full tier steps':<16} {'start s':>8} {'calls s':>8} {'stop s':>8} "
            f"{'arms s':>8} {'p50 ms':>7} {'p95 ms':>7}"
        )
        for mode, p in results["full_phases"].items():
            print(
                f"{'unconfined' if mode == 'none' else 'bwrap':<16} {p['start']:>8.2f} "
                f"{p['calls']:>8.2f} {p['stop']:>8.2f} {p['arms']:>8.2f} "
                f"{p['p50_ms']:>7.2f} {p['p95_ms']:>7.2f}"
            )
    d = results["disk_watch"]
    print(
        f"\ndisk watch: one walk of the volume ({d['volume_files']} files, "
        f"{d['volume_mb']:.0f} MB) {d['walk_p50_ms']:.2f} ms wall, {d['walk_cpu_ms']:.2f} ms "
        f"CPU, every {d['poll_s']} s: {d['core_share']:.1%} of a core per confined process"
    )
    return verdict


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fast-rounds", type=int, default=None, help="default: --rounds")
    parser.add_argument("--tiers", nargs="+", default=["fast", "full"], choices=["fast", "full"])
    parser.add_argument("--sample", type=int, default=None, help="held-out rows (default: all)")
    parser.add_argument("--phase-rounds", type=int, default=4, help="full tier split in steps")
    parser.add_argument("--starts", type=int, default=40, help="start-ups per row")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "sandbox.json")
    args = parser.parse_args()
    options = CiOptions(heldout_sample=args.sample)
    rounds = {"fast": args.fast_rounds or args.rounds, "full": args.rounds}
    use("auto")
    results: dict[str, Any] = {
        "sandbox": sandbox_support().to_json(),
        "rounds": {tier: rounds[tier] for tier in args.tiers},
        "load_average": os.getloadavg(),
        "heldout_sample": args.sample,
        "unit_tests": list(options.unit_tests),
        "startup": startup_costs(args.starts),
        "disk_watch": disk_watch_cost(),
        "tiers": measure_tiers(args.tiers, rounds, options),
    }
    if "full" in args.tiers and args.phase_rounds:
        results["full_phases"] = full_tier_phases(args.phase_rounds, args.sample)
    results["load_average_after"] = os.getloadavg()
    start_up_share(results)
    verdict = report(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    return verdict


if __name__ == "__main__":
    sys.exit(main())
