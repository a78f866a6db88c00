"""Feedback intake: validate, join to the Runner's turn, store, apply to staging.

The feedback table (:mod:`ratchet.sessions`) is the durable log; staging
keeps a watermark, the id of the last feedback applied, in its ``tuning``
bookkeeping. Applying means: in one compare-and-swap, fold every feedback
past the watermark into the state and move the watermark. A conflict re-reads
and re-applies from the newer watermark, a crash after storing leaves the
feedback pending for the next apply, so each feedback is applied exactly once
and none is lost.

Each accepted feedback carries the span of the route call that answered its
turn (from the Runner's audit log beside the sessions), which the feedback
span links to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from opentelemetry.trace import Link

from ratchet.audit import AuditLog, SpanRef
from ratchet.sessions import SessionStore, valid_conversation_id
from ratchet.state import StateDocument, StateManager
from ratchet.telemetry.links import route_call_link

from .rebase import follow, placed

WATERMARK = "feedback_watermark"
APPLIED = "feedback_applied"


class FeedbackRejected(ValueError):
    """The feedback cannot be accepted; nothing was stored."""


@dataclass(frozen=True, slots=True)
class Accepted:
    feedback_id: int | None  # None: a duplicate idempotency key
    conversation_id: str
    turn: int
    version: str
    state_revision: int
    route_call: SpanRef | None = None  # the span that answered the turn, if audited

    @property
    def route_call_link(self) -> Link | None:
        """The span link from the feedback's span to the route call's."""
        if self.route_call is None:
            return None
        return route_call_link(
            self.route_call.trace_id,
            self.route_call.span_id,
            conversation_id=self.conversation_id,
            turn=self.turn,
        )


def reward_of(row: dict[str, Any]) -> float:
    """The explicit reward, else 1 when the correction confirms the answer, 0 when not."""
    if row["reward"] is not None:
        return float(row["reward"])
    return 1.0 if row["correct_intent"] == row["intent"] else 0.0


def apply_feedback(
    document: StateDocument, rows: list[dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Pure: the state with ``rows`` folded in (Beta posteriors of each row's arm)."""
    data = dict(document.data)
    tuning = dict(document.tuning or {})
    watermark = int(tuning.get(WATERMARK, 0))
    strategy = dict(data.get("strategy", {}))
    arms = {name: dict(arm) for name, arm in strategy.get("arms", {}).items()}
    applied = 0
    for row in rows:
        if row["id"] <= watermark:
            continue
        watermark = row["id"]
        applied += 1
        arm = arms.get(row["arm"])
        if arm is None:  # an arm this state no longer declares: counted, not applied
            continue
        reward = reward_of(row)
        arm["alpha"] = float(arm.get("alpha", 1.0)) + reward
        arm["beta"] = float(arm.get("beta", 1.0)) + (1.0 - reward)
    if arms:
        strategy["arms"] = arms
        data["strategy"] = strategy
    tuning[WATERMARK] = watermark
    tuning[APPLIED] = int(tuning.get(APPLIED, 0)) + applied
    return data, tuning


class Intake:
    def __init__(
        self,
        sessions: SessionStore,
        manager: StateManager,
        labels: tuple[str, ...],
        audit: AuditLog | None = None,
        oos_label: str | None = None,
        task: str | None = None,
    ):
        """``labels``: the task's in-scope labels; ``task``: its name, for error messages;
        ``audit`` defaults to the Runner's audit log in the sessions' folder.

        ``oos_label`` (the task's, if it declares one) is a valid ``correct_intent``
        too: "this turn was out of scope". An out-of-scope answer is a turn whose
        intent is that label, so a correction to an intent X ("it was X") and a
        confirmation are recorded, and rewarded, like any other.
        """
        self.sessions = sessions
        self.manager = manager
        self.labels = frozenset(labels)
        self.oos_label = oos_label
        self.task = task
        self.accepted = self.labels | ({oos_label} if oos_label else set())
        self.audit = AuditLog.beside(sessions) if audit is None else audit

    def submit(
        self,
        conversation_id: str,
        turn: int | None,
        correct_intent: str | None,
        reward: float | None,
        idempotency_key: str | None,
    ) -> Accepted:
        """Validate and store one feedback (nothing is stored if it is rejected)."""
        if not valid_conversation_id(conversation_id):
            raise FeedbackRejected(f"malformed conversation_id {conversation_id!r}")
        if correct_intent is None and reward is None:
            raise FeedbackRejected("give correct_intent, reward or both")
        if correct_intent is not None and correct_intent not in self.accepted:
            raise FeedbackRejected(self._unknown(correct_intent))
        if reward is not None and (not math.isfinite(reward) or not 0.0 <= reward <= 1.0):
            raise FeedbackRejected(f"reward {reward} is out of range: use 0 to 1")
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= 200:
            raise FeedbackRejected("idempotency_key must have 1-200 characters")
        if turn is not None and turn < 1:
            raise FeedbackRejected("turn counts from 1")
        answered = self.sessions.turn(conversation_id, turn)
        if answered is None:
            what = "conversation" if turn is None else f"turn {turn} of conversation"
            raise FeedbackRejected(f"no {what} {conversation_id!r} was answered by the Runner")
        feedback_id = self.sessions.record_feedback(
            conversation_id,
            answered["turn"],
            correct_intent=correct_intent,
            reward=reward,
            idempotency_key=idempotency_key,
            source="tuner",
        )
        return Accepted(
            feedback_id,
            conversation_id,
            answered["turn"],
            answered["version"],
            answered["state_revision"],
            self.audit.route_call(conversation_id, answered["turn"]),
        )

    def _unknown(self, intent: str) -> str:
        oos = f", or {self.oos_label!r} for out of scope" if self.oos_label else ""
        of = f"task {self.task}" if self.task else "the task"
        return f"unknown intent {intent!r}: use one of the {len(self.labels)} intents of {of}{oos}"

    def apply_pending(self, through: int | None = None) -> StateDocument:
        """Fold every stored feedback past the watermark into staging (CAS, retried),
        once staging follows the active release (:mod:`services.tuner.rebase`).

        With ``through``, stop as soon as the watermark has reached that id: a
        concurrent call that already applied it leaves nothing to write.
        """

        def change(document: StateDocument) -> tuple[dict[str, Any], dict[str, Any]] | None:
            followed = follow(self.manager, document)  # rebased first if a release moved on
            document = placed(document, followed)
            watermark = int((document.tuning or {}).get(WATERMARK, 0))
            if through is not None and watermark >= through:
                return followed
            rows = self.sessions.feedback_after(watermark)
            return apply_feedback(document, rows) if rows else followed

        return self.manager.update_staging_document(change, actor="tuner")

    def pending(self, document: StateDocument) -> int:
        """Stored feedback not yet folded into ``document``."""
        return self.sessions.feedback_count_after(int((document.tuning or {}).get(WATERMARK, 0)))
