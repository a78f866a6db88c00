"""Baselines for the Tuner's CMA-ES study: plain pycma in-process, and Optuna's CMA sampler
driven by the same asynchronous client (k evaluations in flight, completed in random order).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from services.tuner.algorithms.cmaes import Objective, Param


def pycma_evals_to_target(
    objective: Objective,
    params: Sequence[Param],
    *,
    sigma0: float = 0.3,
    seed: int = 0,
    popsize: int | None = None,
    max_evals: int = 100_000,
    target: float = 1e-8,
) -> int | None:
    """The baseline: plain synchronous pycma in real units with its own ``bounds``."""
    low, high = [p.low for p in params], [p.high for p in params]
    span = np.subtract(high, low)
    opts: dict[str, Any] = {
        "bounds": [low, high],
        "CMA_stds": span / span.max(),  # sigma0 relative to each range, as in a Study
        "verbose": -9,
        "seed": np.nan,
        "randn": np.random.RandomState(seed).randn,
    }
    if popsize is not None:
        opts["popsize"] = popsize
    x0 = [(p.low + p.high) / 2 if p.x0 is None else p.x0 for p in params]
    evals = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pycma's import and run-time chatter
        import cma  # type: ignore[import-untyped]

        es = cma.CMAEvolutionStrategy(x0, sigma0 * span.max(), opts)
        while evals < max_evals:
            xs = es.ask()
            values = []
            for x in xs:
                evals += 1
                values.append(objective({p.name: float(v) for p, v in zip(params, x, strict=True)}))
                if values[-1] < target:
                    return evals
            es.tell(xs, values)
    return None


def optuna_simulate(
    objective: Objective,
    params: Sequence[Param],
    pending: int,
    max_evals: int,
    rng: np.random.Generator,
    *,
    sigma0: float = 0.3,
    seed: int = 0,
    target: float = 1e-8,
) -> tuple[int | None, float]:
    """The same client against Optuna's CmaEsSampler: (evals to target, share of results lost).

    Optuna drops a result that misses its generation. Lost: told, not used by the
    sampler, and not waiting in the generation still open. Needs optuna's ``cmaes``.
    """
    import cmaes as cmaes_lib  # type: ignore[import-not-found,import-untyped,unused-ignore]
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    low, span = np.array([p.low for p in params]), np.array([p.high - p.low for p in params])

    def key(unit: np.ndarray) -> bytes:  # a trial's identity in the sampler's [0, 1] space
        return np.round(unit, 9).tobytes()

    used: set[bytes] = set()  # Optuna may re-tell a generation: count each result once
    closed = 0  # generations < closed have had their update
    original_tell = cmaes_lib.CMA.tell

    def counting_tell(self: Any, solutions: list[tuple[np.ndarray, float]]) -> None:
        nonlocal closed
        closed = max(closed, self.generation + 1)
        used.update(key(x) for x, _ in solutions)
        original_tell(self, solutions)

    x0 = {p.name: (p.low + p.high) / 2 if p.x0 is None else p.x0 for p in params}
    study = optuna.create_study(
        sampler=optuna.samplers.CmaEsSampler(x0=x0, sigma0=sigma0, seed=seed)
    )
    space: dict[str, optuna.distributions.BaseDistribution] = {
        p.name: optuna.distributions.FloatDistribution(p.low, p.high) for p in params
    }
    reached: int | None = None
    cmaes_lib.CMA.tell = counting_tell
    try:
        inflight = [study.ask(space) for _ in range(pending)]
        for evals in range(1, max_evals + 1):
            trial = inflight.pop(int(rng.integers(len(inflight))))
            value = objective(trial.params)
            study.tell(trial, value)
            if value < target:
                reached = evals
                break
            inflight.append(study.ask(space))
    finally:
        cmaes_lib.CMA.tell = original_tell
    done = study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE])
    lost = sum(
        key((np.array([t.params[p.name] for p in params]) - low) / span) not in used
        and t.system_attrs.get("cma:generation", -1) < closed
        for t in done
    )
    return reached, lost / len(done)
