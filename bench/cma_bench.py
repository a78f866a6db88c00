"""CMA-ES section of the Tuner bench: evaluations to f < 1e-8 on the 10-D sphere.

The same client protocol for all three: ``pending`` evaluations always in
flight, one of them (at random) completes, is told, and a new one is asked.
Through the Tuner over MCP (``cma_start``/``cma_ask``/``cma_tell``), against
plain synchronous pycma in-process and Optuna's CMA sampler in-process.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import anyio
import numpy as np
from mcp import Client

from services.tuner.algorithms.cmaes import Param
from tests.helpers.mcp import call

from .cma_baselines import optuna_simulate, pycma_evals_to_target

DIM, TARGET, MAX_EVALS = 10, 1e-8, 20_000
PARAMS = [Param(f"x{i}", -5.0, 5.0, 3.0) for i in range(DIM)]


def sphere(values: Any) -> float:
    return float(sum(v * v for v in values.values()))


async def _service_run(url: str, pending: int, seed: int) -> dict[str, Any]:
    """Evaluations the Tuner's study needed, and how many told results it used."""
    rng = np.random.default_rng(100 + seed)
    study = f"bench-{pending}-{seed}-{time.time_ns()}"
    bounds = {p.name: {"low": p.low, "high": p.high, "x0": p.x0} for p in PARAMS}
    async with Client(url) as client:
        await call(client, "cma_start", study=study, params=bounds, seed=seed)
        inflight = (await call(client, "cma_ask", study=study, n=pending))["candidates"]
        reached = None
        for evals in range(1, MAX_EVALS + 1):
            candidate = inflight.pop(int(rng.integers(len(inflight))))
            value = sphere(candidate["params"])
            status = await call(
                client, "cma_tell", study=study, candidate_id=candidate["id"], value=value
            )
            if value < TARGET:
                reached = evals
                break
            inflight += (await call(client, "cma_ask", study=study))["candidates"]
    return {
        "evals": reached,
        "told": status["told"],
        "used_or_buffered": status["used_in_updates"] + status["buffered"],
    }


async def cma_section(tuner: str, quick: bool) -> dict[str, Any]:
    seeds = range(2 if quick else 5)
    pendings = (1, 4, 16)
    baseline = [pycma_evals_to_target(sphere, PARAMS, seed=s, target=TARGET) for s in seeds]
    service: dict[int, list[dict[str, Any]]] = {p: [] for p in pendings}

    async def one(pending: int, seed: int) -> None:
        service[pending].append(await _service_run(tuner, pending, seed))

    async with anyio.create_task_group() as group:  # every run at once: own study each
        for pending in pendings:
            for seed in seeds:
                group.start_soon(one, pending, seed)
    pycma_median = statistics.median(e or MAX_EVALS for e in baseline)
    results: dict[str, Any] = {"pycma_in_process": {"median_evals": pycma_median, "runs": baseline}}
    for pending in pendings:
        optuna = [
            optuna_simulate(
                sphere, PARAMS, pending, MAX_EVALS, np.random.default_rng(100 + s), seed=s
            )
            for s in seeds
        ]
        runs = service[pending]
        median = statistics.median(r["evals"] or MAX_EVALS for r in runs)
        optuna_median = statistics.median(e or MAX_EVALS for e, _ in optuna)
        results[f"pending_{pending}"] = {
            "service_median_evals": median,
            "service_vs_pycma": median / pycma_median,
            "service_results_lost": sum(r["told"] - r["used_or_buffered"] for r in runs),
            "service_runs": [r["evals"] for r in runs],
            "optuna_median_evals": optuna_median,
            "optuna_vs_pycma": optuna_median / pycma_median,
            "optuna_results_lost_share": statistics.mean(lost for _, lost in optuna),
        }
        print(f"pending {pending}: {results[f'pending_{pending}']}", flush=True)
    return results
