"""Seeing a release through its rollout: live traffic with feedback until the evidence decides.

With progressive delivery (the default) a release first serves a share of new
conversations as the canary; the rollout controller in the Architect promotes
or aborts it from the feedback on both sides. The demo keeps routing traffic,
with corrections, until that happens, and says how it went. A release made
with ``RATCHET_ROLLOUT=immediate`` is served at once, and only waited for.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence

from ratchet.datasets import Example
from ratchet.errors import RatchetError
from ratchet.rollouts.model import Rollout, RolloutStatus
from ratchet.rollouts.store import RolloutStore

from .plan import DemoPlan, Progress

Replay = Callable[[Sequence[Example], str], None]  # route these with feedback, as this phase


class RolloutStalled(RatchetError):
    """The rollout neither ended nor moved within the traffic the plan allows."""


class RolloutDriver:
    def __init__(
        self,
        rollouts: RolloutStore,
        plan: DemoPlan,
        progress: Progress,
        replay: Replay,
        wait_served: Callable[[str], None],
    ) -> None:
        self.rollouts = rollouts
        self.plan = plan
        self.progress = progress
        self.replay = replay
        self.wait_served = wait_served
        self.outcomes: dict[str, str] = {}  # version -> active | promoted | aborted

    def see_through(self, version: str, pool: Sequence[Example], phase: str) -> str:
        """Traffic from ``pool`` (cycled) until ``version``'s rollout ends; how it ended:
        ``active`` (delivered at once), ``promoted`` (served to everyone) or ``aborted``."""
        traffic = _cycle(pool, self.plan.rollout_chunk)
        sent, said = 0, ""
        self.progress.phase(f"rollout of {version}: live traffic with feedback", None)
        while True:
            rollout = self.rollouts.of_version(version)
            outcome = self._outcome(version, rollout)
            if outcome is not None:
                self.outcomes[version] = outcome
                return outcome
            assert rollout is not None
            if rollout.status == RolloutStatus.HELD or sent >= self.plan.rollout_max_turns:
                raise RolloutStalled(
                    f"rollout {rollout.id} of {version} is {rollout.status.value} after {sent} "
                    f"turns ({_said(rollout)}); decide with `ratchet rollout promote|abort`"
                )
            chunk = next(traffic)
            self.replay(chunk, phase)
            sent += len(chunk)
            if _said(rollout) != said:  # the record's analysis is rewritten every few seconds
                said = _said(rollout)
                self.progress.note(f"rollout {rollout.id}: {said}")

    def _outcome(self, version: str, rollout: Rollout | None) -> str | None:
        if rollout is None:  # delivered at once
            self.wait_served(version)
            return "active"
        verdict = rollout.verdict
        reasons = "; ".join(verdict.reasons) if verdict else ""
        if rollout.status == RolloutStatus.PROMOTED:
            self.wait_served(version)
            self.progress.note(f"rollout {rollout.id} promoted {version}: {reasons}")
            return "promoted"
        if rollout.status == RolloutStatus.ABORTED:
            self.progress.note(f"rollout {rollout.id} aborted {version}: {reasons}")
            return "aborted"
        return None


def _said(rollout: Rollout) -> str:
    """The rollout's weight and step, and what its latest analysis counted."""
    where = f"weight {rollout.weight:g}, step {rollout.step + 1}"
    latest = rollout.latest
    if latest is None:
        return where
    counts = latest.analysis
    return (
        f"{where}, {latest.outcome.value}: canary {counts.get('canary_feedback', 0)} "
        f"feedbacks, stable {counts.get('stable_feedback', 0)}"
    )


def _cycle(pool: Sequence[Example], size: int) -> Iterator[list[Example]]:
    """Chunks of ``size`` examples from ``pool``, round and round."""
    if not pool:
        raise ValueError("no traffic to roll a release out with")
    endless = itertools.cycle(pool)
    while True:
        yield list(itertools.islice(endless, size))
