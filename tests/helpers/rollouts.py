"""Releases delivered as the canary of a rollout, for the tests of what shows or acts on one."""

from __future__ import annotations

from ratchet.config import RolloutMode
from ratchet.rollouts.delivery import Delivery, deliver
from ratchet.rollouts.store import RolloutStore
from ratchet.state import StateDocument, StateManager


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
