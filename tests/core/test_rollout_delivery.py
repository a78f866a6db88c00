"""Delivering releases through rollouts: queueing, ending, and repair after a crash."""

from __future__ import annotations

import pytest

from ratchet.config import RolloutMode
from ratchet.errors import ConflictError
from ratchet.objects import ObjectStore
from ratchet.rollouts.delivery import Delivery, conclude, reconcile
from ratchet.rollouts.model import Decision, Outcome, Rollout, RolloutStatus
from ratchet.rollouts.store import RolloutStore
from ratchet.state import StateManager
from tests.helpers.rollouts import delivered

FIRST_WEIGHT = 0.1


def release(
    manager: StateManager,
    rollouts: RolloutStore,
    version: str,
    mode: RolloutMode = RolloutMode.PROGRESSIVE,
) -> Delivery:
    return delivered(manager, rollouts, version, actor="test", first_weight=FIRST_WEIGHT, mode=mode)


def decision(outcome: Outcome) -> Decision:
    return Decision(outcome=outcome, step=0, weight=0.0, actor="test", reasons=["because"])


@pytest.fixture
def homes(store: ObjectStore) -> tuple[StateManager, RolloutStore]:
    manager, rollouts = StateManager(store), RolloutStore(store)
    release(manager, rollouts, "v0.1.0")
    return manager, rollouts


def test_immediate_mode_and_the_first_release_move_the_pointer_at_once(
    store: ObjectStore,
) -> None:
    manager, rollouts = StateManager(store), RolloutStore(store)
    assert release(manager, rollouts, "v0.1.0").rollout is None  # nothing to compare against
    assert release(manager, rollouts, "v0.1.1", RolloutMode.IMMEDIATE).rollout is None
    assert manager.pointer().version == "v0.1.1"  # type: ignore[union-attr]
    assert rollouts.all() == []


def test_a_release_becomes_the_canary_beside_the_stable_version(
    homes: tuple[StateManager, RolloutStore],
) -> None:
    manager, rollouts = homes
    delivery = release(manager, rollouts, "v0.2.0")
    assert delivery.rollout is not None and delivery.rollout.status == RolloutStatus.RUNNING
    assert "canary of rollout 1 at weight 0.1" in delivery.describe
    pointer = manager.pointer()
    assert pointer is not None and pointer.version == "v0.1.0"
    assert pointer.canary is not None
    assert (pointer.canary.version, pointer.canary.weight, pointer.canary.rollout) == (
        "v0.2.0",
        FIRST_WEIGHT,
        "1",
    )
    assert manager.canary_state(pointer.canary).data == {"version": "v0.2.0"}
    assert delivery.rollout.stable is not None and delivery.rollout.stable.version == "v0.1.0"


def test_a_release_during_a_rollout_queues_and_starts_on_what_the_first_left(
    homes: tuple[StateManager, RolloutStore],
) -> None:
    manager, rollouts = homes
    release(manager, rollouts, "v0.2.0")
    queued = release(manager, rollouts, "v0.2.1").rollout
    assert queued is not None and queued.status == RolloutStatus.QUEUED
    assert manager.pointer().canary.version == "v0.2.0"  # type: ignore[union-attr]

    promoted = conclude(manager, rollouts, decision(Outcome.PROMOTE), first_weight=FIRST_WEIGHT)
    assert (promoted.status, promoted.applied) == (RolloutStatus.PROMOTED, True)
    pointer = manager.pointer()
    assert pointer is not None and pointer.version == "v0.2.0"
    assert pointer.canary is not None and pointer.canary.version == "v0.2.1"
    assert rollouts.get(queued.id).stable.version == "v0.2.0"  # type: ignore[union-attr]

    aborted = conclude(manager, rollouts, decision(Outcome.ABORT), first_weight=FIRST_WEIGHT)
    assert aborted.status == RolloutStatus.ABORTED and aborted.verdict is not None
    assert aborted.verdict.reasons == ["because"]
    pointer = manager.pointer()
    assert pointer is not None and (pointer.version, pointer.canary) == ("v0.2.0", None)
    assert [r.version for r in rollouts.all()] == ["v0.2.0", "v0.2.1"]  # kept, never deleted


def test_ending_with_no_live_rollout_is_a_conflict(
    homes: tuple[StateManager, RolloutStore],
) -> None:
    manager, rollouts = homes
    with pytest.raises(ConflictError, match="no rollout is live: nothing to promote"):
        conclude(manager, rollouts, decision(Outcome.PROMOTE), first_weight=FIRST_WEIGHT)
    release(manager, rollouts, "v0.2.0")
    with pytest.raises(ConflictError, match="rollout 7 is not live"):
        conclude(
            manager, rollouts, decision(Outcome.ABORT), rollout_id="7", first_weight=FIRST_WEIGHT
        )


def test_a_retried_delivery_does_not_queue_the_release_twice(
    homes: tuple[StateManager, RolloutStore],
) -> None:
    manager, rollouts = homes
    release(manager, rollouts, "v0.2.0")
    release(manager, rollouts, "v0.2.0")
    assert len(rollouts.all()) == 1


def test_a_crash_between_the_record_and_the_pointer_is_finished_by_reconcile(
    homes: tuple[StateManager, RolloutStore],
) -> None:
    manager, rollouts = homes
    release(manager, rollouts, "v0.2.0")

    def promoted_on_record_only(current: list[Rollout]) -> list[Rollout]:
        current[0].status, current[0].applied = RolloutStatus.PROMOTED, False
        current[0].decisions.append(decision(Outcome.PROMOTE))
        return current

    rollouts.update(promoted_on_record_only)
    assert manager.pointer().version == "v0.1.0"  # type: ignore[union-attr]
    done = reconcile(manager, rollouts)
    assert "rollout 1 promoted: applied to the pointer" in done
    pointer = manager.pointer()
    assert pointer is not None and (pointer.version, pointer.canary) == ("v0.2.0", None)
    assert reconcile(manager, rollouts) == []  # idempotent


def test_a_rollback_during_a_rollout_aborts_it(homes: tuple[StateManager, RolloutStore]) -> None:
    manager, rollouts = homes
    release(manager, rollouts, "v0.1.1", RolloutMode.IMMEDIATE)
    release(manager, rollouts, "v0.2.0")
    manager.rollback(actor="human", reason="not today")
    reconcile(manager, rollouts)
    rollout = rollouts.get("1")
    assert rollout.status == RolloutStatus.ABORTED
    assert (
        rollout.verdict is not None and "moved from v0.1.1 to v0.1.0" in rollout.verdict.reasons[0]
    )
    assert manager.pointer().canary is None  # type: ignore[union-attr]
