"""Releases delivered as the canary of a rollout, for the tests of what shows or acts on one."""

from __future__ import annotations

from ratchet.config import RolloutMode
from ratchet.rollouts.delivery import Delivery, deliver
from ratchet.rollouts.store import RolloutStore
from ratchet.state import Canary, StateDocument, StateManager


def delivered(
    manager: StateManager,
    rollouts: RolloutStore,
    version: str,
    *,
    actor: str = "tuner",
    first_weight: float = 0.1,
    mode: RolloutMode = RolloutMode.PROGRESSIVE,
) -> Delivery:
    """Release ``version`` (a state naming it) progressively: the first is activated, each
    later one is a canary or queued."""
    return deliver(
        manager,
        rollouts,
        mode=mode,
        first_weight=first_weight,
        version=version,
        document=StateDocument(data={"version": version}),
        commit=None,
        actor=actor,
        reason=f"release {version}",
    )


def canary_of(
    manager: StateManager, version: str, document: StateDocument, weight: float, rollout: str = "1"
) -> Canary:
    """``document`` recorded and named as ``version``, the canary at ``weight``."""
    return Canary(
        rollout=rollout,
        version=version,
        snapshot=manager.record_state(document),
        state_hash=document.content_hash(),
        state_revision=document.revision,
        weight=weight,
    )
