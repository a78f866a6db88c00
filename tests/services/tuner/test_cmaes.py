"""The asynchronous CMA-ES study: ask/tell bookkeeping, no lost results, signed state, speed."""

from __future__ import annotations

import json
import math
import os
import pickle
import statistics
import subprocess
import sys
import zlib
from collections.abc import Mapping
from dataclasses import asdict
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from bench.cma_baselines import pycma_evals_to_target
from services.tuner.algorithms import cmaes
from services.tuner.algorithms.cmaes import (
    AlreadyTold,
    Candidate,
    InvalidValue,
    Param,
    Study,
    StudyError,
    TamperedState,
    UnknownCandidate,
    simulate,
)

KEY = b"k" * 32
PARAMS = [
    Param("lr", 1e-4, 1e-1),
    Param("temperature", 0.0, 2.0, x0=1.5),
    Param("offset", -50.0, 10.0, x0=-45.0),
]


def sphere(params: Mapping[str, float]) -> float:
    return float(sum(v * v for v in params.values()))


def shifted(params: Mapping[str, float]) -> float:
    """Minimum at the middle of each PARAMS range."""
    return sum(
        ((v - (p.low + p.high) / 2) / (p.high - p.low)) ** 2
        for p, v in zip(PARAMS, params.values(), strict=True)
    )


def run(
    study: Study, steps: int, inflight: list[Candidate], rng: np.random.Generator
) -> list[Candidate]:
    """Keep len(inflight) evaluations pending; complete a random one per step. Returns the asks."""
    asked = []
    for _ in range(steps):
        cand = inflight.pop(int(rng.integers(len(inflight))))
        study.tell(cand.id, shifted(cand.params))
        inflight.append(study.ask())
        asked.append(inflight[-1])
    return asked


def assert_nothing_lost(study: Study) -> None:
    c = study.counters
    assert c.used_in_updates + c.buffered == c.told
    assert c.buffered < study.popsize


def test_ask_hands_out_unique_candidates_within_bounds() -> None:
    study = Study(PARAMS, seed=3)
    inflight = [study.ask() for _ in range(16)]
    asked = list(inflight)
    asked += run(study, 600, inflight, np.random.default_rng(0))
    assert len({c.id for c in asked}) == len(asked) == study.counters.asked
    for cand in asked:
        assert list(cand.params) == [p.name for p in PARAMS]
        for p in PARAMS:
            assert p.low <= cand.params[p.name] <= p.high
    assert study.generation > 20
    assert {c.generation for c in asked} >= {0, study.generation}


def test_out_of_order_and_late_results_are_all_used() -> None:
    study = Study(PARAMS, seed=1)
    lam = study.popsize
    held = study.ask()  # comes back only several generations later
    batch = [study.ask() for _ in range(3 * lam)]  # more than a population: drawn again
    for cand in reversed(batch):
        study.tell(cand.id, shifted(cand.params))
        assert_nothing_lost(study)
    assert study.generation == 3
    study.tell(held.id, shifted(held.params))
    assert held.generation == 0
    assert_nothing_lost(study)
    assert study.flush() == 0 and study.counters.buffered == 1  # fewer than mu: kept
    for cand in [study.ask() for _ in range(lam - 1)]:
        study.tell(cand.id, shifted(cand.params))
    assert study.generation == 4  # the late result completed this population
    assert study.counters.used_in_updates == study.counters.told == 4 * lam


def test_flush_uses_buffered_results_once_pycma_accepts_them() -> None:
    study = Study(PARAMS)
    cands = [study.ask() for _ in range(study.popsize)]
    study.tell(cands[0].id, 1.0)
    assert study.flush() == 0  # fewer than mu: pycma cannot update from that
    for cand in cands[1:6]:
        study.tell(cand.id, shifted(cand.params))
    assert study.flush() == 6
    c = study.counters
    assert (c.told, c.used_in_updates, c.buffered, c.generations) == (6, 6, 0, 1)
    assert c.outstanding == study.popsize - 6


def test_bad_tells_are_rejected_and_change_nothing() -> None:
    study = Study(PARAMS)
    cands = [study.ask() for _ in range(2 * study.popsize)]
    for cand in cands[: study.popsize]:
        study.tell(cand.id, 1.0)
    before = study.counters
    late = cands[-1]
    for bad_id in ["nope", "", "g0-999", "g7-0", "0-1", f"g1-{late.id.split('-')[1]}"]:
        with pytest.raises(UnknownCandidate):
            study.tell(bad_id, 1.0)
    with pytest.raises(AlreadyTold):
        study.tell(cands[0].id, 1.0)  # even with the same value: counted once
    for bad_value in [math.nan, math.inf, -math.inf, "x", None]:
        with pytest.raises(InvalidValue):
            study.tell(late.id, bad_value)  # type: ignore[arg-type]
    assert study.counters == before
    study.tell(late.id, 2.0)  # still outstanding after the rejections
    assert issubclass(UnknownCandidate, ValueError) and issubclass(StudyError, ValueError)


def test_best_and_recommendation_in_real_units() -> None:
    study = Study(PARAMS, seed=2)
    inflight = [study.ask() for _ in range(4)]
    run(study, 300, inflight, np.random.default_rng(2))
    rec = study.recommendation()
    assert rec.best is not None and rec.best == study.best
    assert math.isclose(rec.best.value, shifted(rec.best.params))
    assert rec.best.value < 1e-3
    for p in PARAMS:
        assert p.low <= rec.mean[p.name] <= p.high
        assert 0 < rec.std[p.name] < 0.1 * (p.high - p.low)  # converging
    assert Study(PARAMS).recommendation().best is None


def test_params_are_validated() -> None:
    with pytest.raises(ValueError):
        Param("a", 1.0, 1.0)
    with pytest.raises(ValueError):
        Param("a", 0.0, 1.0, x0=2.0)
    with pytest.raises(ValueError):
        Study([Param("a", 0, 1), Param("a", 0, 2)])
    with pytest.raises(ValueError):
        Study(PARAMS, sigma0=0.0)


def test_studies_have_private_generators() -> None:
    alone = Study(PARAMS, seed=5)
    expected = [alone.ask().params for _ in range(25)]
    a, b = Study(PARAMS, seed=5), Study(PARAMS, seed=5)
    interleaved = []
    for _ in range(25):
        b.ask()
        np.random.rand()  # numpy's global generator is not theirs either
        interleaved.append(a.ask().params)
    assert interleaved == expected


def test_signed_round_trip_resumes_exactly() -> None:
    original = Study(PARAMS, seed=11)
    inflight = [original.ask() for _ in range(7)]
    run(original, 123, inflight, np.random.default_rng(4))
    assert original.counters.buffered > 0 and original.counters.outstanding == 7
    restored = Study.from_bytes(original.to_bytes(KEY), KEY)
    assert restored.counters == original.counters and restored.best == original.best
    rng_a, rng_b = np.random.default_rng(9), np.random.default_rng(9)
    asked_a = run(original, 200, list(inflight), rng_a)
    asked_b = run(restored, 200, list(inflight), rng_b)
    assert asked_a == asked_b
    assert restored.counters == original.counters and restored.best == original.best


_CHILD = """
import json, sys
from dataclasses import asdict
import numpy as np
from services.tuner.algorithms.cmaes import Candidate, Study
from tests.services.tuner.test_cmaes import KEY, run
study = Study.from_bytes(open(sys.argv[1], "rb").read(), KEY)
inflight = [Candidate(**c) for c in json.loads(sys.argv[2])]
asked = run(study, 150, inflight, np.random.default_rng(9))
print(json.dumps([asdict(c) for c in asked]))
"""


def test_restored_in_another_process_continues_exactly(tmp_path: Path) -> None:
    """A service restart: new process, new hash seed (pycma's own archive would not survive)."""
    study = Study(PARAMS, seed=7)
    inflight = [study.ask() for _ in range(9)]
    run(study, 100, inflight, np.random.default_rng(8))
    blob = tmp_path / "study.bin"
    blob.write_bytes(study.to_bytes(KEY))
    pending = json.dumps([asdict(c) for c in inflight])
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(blob), pending],
        cwd=Path(__file__).resolve().parents[3],
        env={**os.environ, "PYTHONHASHSEED": "4242", "PYTHONWARNINGS": "ignore"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    expected = run(study, 150, inflight, np.random.default_rng(9))
    assert json.loads(child.stdout) == [asdict(c) for c in expected]


class _Evil:
    ran = False

    def __reduce__(self) -> tuple[object, tuple[()]]:
        return (_Evil.mark, ())

    @staticmethod
    def mark() -> None:
        _Evil.ran = True


def test_tampered_or_foreign_state_is_refused_before_unpickling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    blob = Study(PARAMS).to_bytes(KEY)
    head = len(cmaes._MAGIC) + 32
    flipped = blob[:-1] + bytes([blob[-1] ^ 1])
    evil = zlib.compress(pickle.dumps(_Evil()))
    forged = cmaes._MAGIC + cmaes._mac(b"attacker-key-0123", evil) + evil

    def no_unpickling(*args: object, **kwargs: object) -> None:
        raise AssertionError("unpickled unverified data")

    monkeypatch.setattr(pickle, "loads", no_unpickling)  # the module's pickle too
    for bad, key in [(flipped, KEY), (blob, b"another key 123456"), (forged, KEY),
                     (blob[:head], KEY), (b"junk", KEY), (blob[1:], KEY)]:  # fmt: skip
        with pytest.raises(TamperedState):
            Study.from_bytes(bad, key)
    assert not _Evil.ran
    with pytest.raises(ValueError):
        Study(PARAMS).to_bytes(b"short")


def test_serialised_size_is_modest() -> None:
    params = [Param(f"x{i}", -5.0, 5.0) for i in range(10)]
    study = Study(params)
    inflight = [study.ask() for _ in range(16)]
    for _ in range(1000):
        cand = inflight.pop(0)
        study.tell(cand.id, sphere(cand.params))
        inflight.append(study.ask())
    assert len(study.to_bytes(KEY)) < 40_000


def test_converges_with_four_pending_about_as_fast_as_pycma() -> None:
    params = [Param(f"x{i}", -5.0, 5.0, x0=3.0) for i in range(4)]
    ours, plain = [], []
    for seed in range(5):
        evals = simulate(
            partial(Study, params, seed=seed), sphere, 4, 5000, np.random.default_rng(seed), 1e-6
        )
        baseline = pycma_evals_to_target(sphere, params, seed=seed, target=1e-6)
        assert evals is not None and baseline is not None
        ours.append(evals)
        plain.append(baseline)
    assert statistics.median(ours) <= 1.25 * statistics.median(plain)


# --- baselines for benches: plain pycma, and Optuna (needs its optional `cmaes` package) ---
