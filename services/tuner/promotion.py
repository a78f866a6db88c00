"""``promote``: gate staging with the micro tier, then release it as a patch.

Nothing is tagged unless the micro tier passed on exactly the state being
released; a pinned pointer or an unchanged state is answered with the reason.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ratchet import events
from ratchet.audit import AuditLog
from ratchet.builds import BuildStore
from ratchet.ci.micro import run_micro
from ratchet.errors import ConflictError, PinnedError
from ratchet.objects import ObjectStore
from ratchet.promotion import release_state
from ratchet.rollouts.delivery import Deliverer
from ratchet.state import ActiveState, StateDocument, StateManager
from ratchet.vcs import (
    MAX_EVENTS,
    FeedbackEvent,
    LearnedFrom,
    ReleaseKind,
    ReleaseStore,
    learned_from,
)

from .intake import APPLIED, WATERMARK, Intake, reward_of
from .rebase import based_on
from .scoring import active_code_root


class Kpis(BaseModel):
    """What the feedback released in one patch said about the versions that answered."""

    feedback: int
    mean_reward: float | None
    corrections: int
    correction_accuracy: float | None = Field(
        description="Share of corrected turns whose answer the correction confirmed."
    )


class PromoteResult(BaseModel):
    promoted: bool
    version: str | None  # the new version, or the one still active
    reason: str
    feedback_applied: int
    kpis: Kpis | None = None
    event: str | None = Field(default=None, description="Key of the summary event published.")


def lineage_of(rows: list[dict[str, Any]], audit: AuditLog) -> LearnedFrom:
    """The feedback ``rows`` a patch was tuned on, each with its route call's trace id."""
    named = rows[:MAX_EVENTS]
    spans = audit.route_calls((row["conversation_id"], row["turn"]) for row in named)
    events = [
        FeedbackEvent(
            conversation_id=row["conversation_id"],
            turn=row["turn"],
            trace_id=span.trace_id
            if (span := spans.get((row["conversation_id"], row["turn"])))
            else None,
            feedback_id=row["id"],
        )
        for row in named
    ]
    return learned_from("tuner_feedback", events, total=len(rows))


def kpis_of(rows: list[dict[str, Any]]) -> Kpis:
    corrections = [row for row in rows if row["correct_intent"] is not None]
    right = sum(row["correct_intent"] == row["intent"] for row in corrections)
    return Kpis(
        feedback=len(rows),
        mean_reward=round(sum(map(reward_of, rows)) / len(rows), 4) if rows else None,
        corrections=len(corrections),
        correction_accuracy=round(right / len(corrections), 4) if corrections else None,
    )


@dataclass(frozen=True)
class ReleaseNote:
    """Why a patch is released, when it is not (only) the feedback it folds in."""

    reason: str
    metadata: dict[str, Any] = field(default_factory=dict)


class Promoter:
    def __init__(
        self,
        manager: StateManager,
        intake: Intake,
        releases: ReleaseStore,
        builds: BuildStore,
        local_root: Path,
        objects: ObjectStore,
        deliverer: Deliverer,
    ) -> None:
        self.objects = objects
        self.deliverer = deliverer  # at once, or as a rollout's canary (RATCHET_ROLLOUT)
        self._promoting = threading.Lock()
        self.manager = manager
        self.intake = intake
        self.releases = releases
        self.builds = builds
        self.local_root = local_root

    def promote(self, note: ReleaseNote | None = None) -> PromoteResult:
        """Staging released as a patch if micro passes; ``note`` says why (default: the
        feedback it was tuned from) and adds to the release's metadata."""
        with self._promoting:  # one at a time here; the release lock orders processes
            return self._promote(note)

    def _promote(self, note: ReleaseNote | None) -> PromoteResult:
        placed = self._placed()
        if placed is None:
            return PromoteResult(
                promoted=False,
                version=None,
                feedback_applied=0,
                reason="no active version yet: run `ratchet init`",
            )
        active, staging = placed
        applied = int((staging.tuning or {}).get(APPLIED, 0))
        refusal = self._refusal(active, staging)
        if refusal is None:
            report = run_micro(
                staging, active_code_root(self.manager, self.builds, self.local_root)
            )
            if report.passed:
                return self._release(active, staging, applied, report.reason, note)
            refusal = report.reason
        return PromoteResult(
            promoted=False, version=active.version, reason=refusal, feedback_applied=applied
        )

    def _placed(self) -> tuple[ActiveState, StateDocument] | None:
        """The active state and staging rebased on it with everything received so far
        applied; read again if the pointer moved in between (None: nothing served)."""
        while True:
            staging = self.intake.apply_pending()
            active = self.manager.read_active()
            if active is None or based_on(staging) == active.pointer.revision:
                return None if active is None else (active, staging)

    def _refusal(self, active: ActiveState, staging: StateDocument) -> str | None:
        """Why staging cannot be released over ``active`` before any test, if it cannot."""
        if active.pointer.pinned:
            return (
                f"pinned: {active.version} is pinned by {active.pointer.actor} "
                f"({active.pointer.reason or 'no reason given'}); unpin it first"
            )
        if staging.content_hash() == active.document.content_hash():
            return f"nothing to release: staging equals the state of {active.version}"
        return None

    def _release(
        self,
        active: ActiveState,
        staging: StateDocument,
        applied: int,
        micro: str,
        note: ReleaseNote | None,
    ) -> PromoteResult:
        """Tag staging (its micro tier passed) and publish what it learned from."""
        since = int((active.document.tuning or {}).get(WATERMARK, 0))
        through = int((staging.tuning or {}).get(WATERMARK, 0))
        rows = [r for r in self.intake.sessions.feedback_after(since) if r["id"] <= through]
        kpis = kpis_of(rows)
        try:
            release = release_state(
                self.manager,
                self.releases,
                staging,
                kind=ReleaseKind.PATCH,
                author="tuner",
                reason=note.reason if note else f"tuned state from {applied} feedbacks",
                metadata={
                    **(note.metadata if note else {}),
                    "feedback_applied": applied,
                    "staging_revision": staging.revision,
                    "micro": micro,
                    "kpis": kpis.model_dump(),
                    "learned_from": lineage_of(rows, self.intake.audit),
                },
                parent_revision=active.pointer.revision,
                deliverer=self.deliverer,
            )
        except ConflictError as exc:  # pinned, or another release landed, while micro ran
            pinned = isinstance(exc, PinnedError)
            return PromoteResult(
                promoted=False,
                version=active.version,
                reason=f"pinned: {exc}" if pinned else f"{exc}; the next promote follows it",
                feedback_applied=applied,
            )
        event = events.publish(  # the record of what this release was learned from
            self.objects,
            "tuner",
            "promotion",
            {
                "version": release.version,
                "parent": active.version,
                "commit": release.commit,
                "feedback_applied": applied,
                "kpis": kpis.model_dump(),
            },
        )
        return PromoteResult(
            promoted=True,
            version=release.version,
            feedback_applied=applied,
            reason=f"released {self.deliverer.describe(release.version)}; {micro}",
            kpis=kpis,
            event=event,
        )
