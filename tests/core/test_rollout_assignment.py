"""The rollout's split: a conversation's side is a hash of its id, the same in every process."""

from __future__ import annotations

import subprocess
import sys

from ratchet.rollouts.assignment import bucket, takes_canary
from tests.conftest import PROJECT_ROOT

IDS = [f"conversation-{i}" for i in range(20_000)]


def test_the_bucket_is_sha256_of_the_id_not_the_salted_builtin_hash() -> None:
    # Pinned values: a replica on another machine or Python computes the same.
    assert bucket("abc") == 0.7283949105904021
    assert bucket("conv-1") == 0.21219347998563076
    code = "from ratchet.rollouts.assignment import bucket; print(bucket('abc'))"
    other = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        env={"PYTHONPATH": str(PROJECT_ROOT), "PYTHONHASHSEED": "12345"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert float(other.stdout) == bucket("abc")


def test_buckets_are_uniform_in_the_unit_interval() -> None:
    buckets = [bucket(i) for i in IDS]
    assert all(0.0 <= b < 1.0 for b in buckets)
    for weight in (0.1, 0.5, 0.9):
        share = sum(b < weight for b in buckets) / len(buckets)
        assert abs(share - weight) < 0.015, (weight, share)  # > 4 standard errors


def test_raising_the_weight_only_adds_conversations_to_the_canary() -> None:
    weights = (0.0, 0.1, 0.25, 0.5, 1.0)
    for cid in IDS[:2000]:
        sides = [takes_canary(cid, w) for w in weights]
        assert sides == sorted(sides)  # once on the canary, a higher weight keeps it there
        assert (sides[0], sides[-1]) == (False, True)  # 0: nobody; 1: everybody
