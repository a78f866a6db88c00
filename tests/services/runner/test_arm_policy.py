"""Which arm a new conversation gets: the best mean for most, a Thompson draw for the
exploring share, never a retired arm, always the same for the same conversation."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

import pytest

from ratchet import datasets
from ratchet.objects import FilesystemObjectStore
from services.runner.agent.build import RouterFactory
from services.runner.agent.router import IntentRouter
from services.runner.agent.state import default_state
from tests.conftest import PROJECT_ROOT

LABELS = datasets.labels(PROJECT_ROOT)


def router(tmp_path: Path, **strategy: object) -> IntentRouter:
    data = default_state(LABELS).model_dump(mode="json")
    data["strategy"].update(strategy)
    return RouterFactory(FilesystemObjectStore(tmp_path), PROJECT_ROOT).build(data)


def arms_of(router: IntentRouter, n: int = 4000) -> Counter[str]:
    return Counter(router.choose_arm(uuid.uuid4().hex) for _ in range(n))


def test_the_same_conversation_always_gets_the_same_arm(tmp_path: Path) -> None:
    even = router(tmp_path, arms={"centroid": {}, "blend": {}}, explore_share=1.0)
    ids = [uuid.uuid4().hex for _ in range(200)]
    first = [even.choose_arm(cid) for cid in ids]
    assert first == [even.choose_arm(cid) for cid in ids]
    assert set(first) == {"centroid", "blend"}  # and it does draw


def test_only_the_exploring_share_leaves_the_best_arm(tmp_path: Path) -> None:
    # Two equally likely arms: an exploring conversation gets blend half of the time.
    arms = {"centroid": {"alpha": 5.0, "beta": 1.0}, "blend": {"alpha": 5.0, "beta": 1.0}}
    counts = arms_of(router(tmp_path, arms=arms, explore_share=0.2))
    share = counts["blend"] / sum(counts.values())
    assert 0.07 <= share <= 0.13, counts  # 0.2 x 0.5
    assert arms_of(router(tmp_path, arms=arms, explore_share=0.0)) == Counter(centroid=4000)


def test_exploration_off_or_a_retired_arm_is_never_drawn(tmp_path: Path) -> None:
    arms = {"centroid": {"alpha": 50.0, "beta": 50.0}, "blend": {"alpha": 90.0, "retired": True}}
    assert arms_of(router(tmp_path, arms=arms, explore_share=1.0)) == Counter(centroid=4000)
    off = router(tmp_path, arms={"centroid": {}, "blend": {"alpha": 3.0}}, explore=False)
    assert arms_of(off, 500) == Counter(blend=500)


def test_a_state_with_every_arm_retired_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not retired"):
        router(tmp_path, arms={"centroid": {"retired": True}})
