"""Aborted rollouts as evidence: a release that live feedback refused is an incident.

The offline tiers passed it and the traffic did not: exactly where they are
weakest, so the Architect should hear of it. A rollout the analysis aborted
(not one a person aborted: that person already knows) opens one wake job,
once (its idempotency key names the rollout), with the verdict's reasons and
numbers and the canary's corrected conversations; and every SLO wake-up
carries the latest aborted rollouts too, so a coder does not propose the
refused change again.
"""

from __future__ import annotations

from typing import Any

from ratchet.rollouts.model import Rollout, RolloutStatus
from ratchet.rollouts.store import RolloutStore

RECENT = 3  # aborted rollouts carried in an SLO wake-up's evidence


def aborted_by_analysis(rollouts: RolloutStore) -> list[Rollout]:
    """Every rollout the analysis aborted, oldest first."""
    return [
        r
        for r in rollouts.all()
        if r.status == RolloutStatus.ABORTED and r.verdict is not None
        if r.verdict.actor == "analysis"
    ]


def summary(rollout: Rollout) -> dict[str, Any]:
    """What the Architect is told about one aborted rollout."""
    verdict = rollout.verdict
    return {
        "rollout": rollout.id,
        "version": rollout.version,
        "stable": rollout.stable.version if rollout.stable else None,
        "author": rollout.author,
        "reason": rollout.reason,
        "ended_at": rollout.ended_at,
        "verdict": verdict.reasons if verdict else [],
        "analysis": verdict.analysis if verdict else {},
    }


def wake_text(rollout: Rollout) -> str:
    reasons = "; ".join(rollout.verdict.reasons) if rollout.verdict else "no reason recorded"
    return f"rollout {rollout.id} aborted {rollout.version} on live feedback: {reasons}"


def idempotency_key(rollout: Rollout) -> str:
    return f"rollout-aborted:{rollout.id}"
