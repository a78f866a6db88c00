"""The rollout controller: one loop that watches the live rollout and acts on its verdicts.

Each tick it makes the pointer match the rollout records (finishing what a
crash left half done), starts a queued release when none is live, gathers the
live signals of both sides since the rollout began, asks the analysis
(:func:`ratchet.rollouts.analysis.decide`) for the step's verdict and applies
it. Everything it knows is in the records and the databases, never in
memory, so a controller killed mid-rollout resumes at the same step with the
same counts, and two controllers on one home cannot both apply a decision
(the records are written by compare-and-swap). It runs in the Architect's
process (:mod:`services.architect.app`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from ratchet.audit import AuditLog
from ratchet.rollouts.analysis import SideSignals, Verdict, decide
from ratchet.rollouts.delivery import conclude, reconcile, start_next
from ratchet.rollouts.model import Decision, Outcome, Rollout, RolloutStatus
from ratchet.rollouts.policy import RolloutPolicy
from ratchet.rollouts.store import RolloutStore
from ratchet.sessions import SessionStore
from ratchet.state import StateManager
from ratchet.state.document import utcnow

log = logging.getLogger(__name__)

LATEST_EVERY_S = 10.0  # how often an unchanged `continue` verdict is written (history grows)


def epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def side_signals(
    sessions: SessionStore, audit: AuditLog, version: str, since: float
) -> SideSignals:
    """One side's feedback and calls from ``since`` (epoch seconds) on."""
    feedback = sessions.feedback_signals(version, since)
    calls = audit.window(max(time.time() - since, 1e-3), tool="route", version=version)
    return SideSignals(
        feedback=feedback.verdicts,
        corrections=feedback.corrections,
        rewards=feedback.rewards,
        reward_sum=feedback.reward_sum,
        reward_sq_sum=feedback.reward_sq_sum,
        calls=calls.calls - calls.rejected,  # bad input is the caller's, not the version's
        errors=calls.errors,
        p95_ms=calls.p95_ms,
    )


class RolloutController:
    def __init__(
        self,
        manager: StateManager,
        rollouts: RolloutStore,
        sessions: SessionStore,
        audit: AuditLog,
        policy: Callable[[], RolloutPolicy],
        *,
        interval_s: float = 2.0,
        on_promoted: Callable[[Rollout], None] | None = None,
        on_aborted: Callable[[Rollout], object] | None = None,
    ) -> None:
        self.manager = manager
        self.rollouts = rollouts
        self.sessions = sessions
        self.audit = audit
        self.policy = policy  # read every tick: the latest release's ci/budgets.json
        self.interval_s = interval_s
        self.on_promoted = on_promoted
        self.on_aborted = on_aborted  # e.g. the revert of the aborted release (rollouts/revert.py)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> Rollout | None:
        """One look at the live rollout, acted on; the rollout after it (None: none live)."""
        policy = self.policy()
        start_next(self.manager, self.rollouts, policy.first_weight)
        live = self.rollouts.live()
        if live is None or live.status == RolloutStatus.HELD or live.stable is None:
            return live
        step = policy.steps[min(live.step, len(policy.steps) - 1)]
        since = epoch(live.started_at or live.created_at)
        verdict = decide(
            side_signals(self.sessions, self.audit, live.stable.version, since),
            side_signals(self.sessions, self.audit, live.canary.version, since),
            step,
            policy.analysis,
            elapsed_s=time.time() - epoch(live.step_started_at or live.created_at),
            last_step=live.step >= len(policy.steps) - 1,
        )
        return self._apply(live, verdict, policy)

    def _apply(self, live: Rollout, verdict: Verdict, policy: RolloutPolicy) -> Rollout | None:
        outcome = Outcome(verdict.outcome)
        decision = Decision(
            outcome=outcome,
            step=live.step,
            weight=live.weight,
            actor="analysis",
            reasons=verdict.reasons,
            analysis=dict(verdict.analysis),
        )
        if outcome in (Outcome.PROMOTE, Outcome.ABORT):
            ended = conclude(
                self.manager,
                self.rollouts,
                decision,
                rollout_id=live.id,
                first_weight=policy.first_weight,
            )
            log.info("rollout %s %s: %s", ended.id, ended.status, "; ".join(verdict.reasons))
            if ended.status == RolloutStatus.PROMOTED and self.on_promoted is not None:
                self.on_promoted(ended)
            if ended.status == RolloutStatus.ABORTED and self.on_aborted is not None:
                self.on_aborted(ended)
            return ended
        if outcome == Outcome.CONTINUE and not _due(live.latest):
            return live
        self.rollouts.update(lambda current: _record(current, live.id, decision, policy))
        reconcile(self.manager, self.rollouts)  # a new step's weight reaches the pointer
        return self.rollouts.get(live.id)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ratchet-rollouts", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def close(self) -> None:
        """Stop, then close the databases the signals are read from."""
        self.stop()
        self.sessions.close()
        self.audit.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # the next tick tries again; serving is never blocked by it
                log.exception("rollout controller tick failed")
            self._stop.wait(self.interval_s)


def _due(latest: Decision | None) -> bool:
    return latest is None or time.time() - epoch(latest.at) >= LATEST_EVERY_S


def _record(
    current: list[Rollout], rollout_id: str, decision: Decision, policy: RolloutPolicy
) -> list[Rollout] | None:
    """``decision`` (continue, next step or inconclusive) written on the live rollout."""
    live = next((r for r in current if r.id == rollout_id and r.status.live), None)
    if live is None or live.step != decision.step:
        return None  # decided meanwhile by someone else: the next tick looks again
    live.latest = decision
    if decision.outcome == Outcome.NEXT_STEP:
        live.step += 1
        live.weight = policy.steps[min(live.step, len(policy.steps) - 1)].weight
        live.step_started_at = utcnow()
        live.decisions.append(decision)
    elif decision.outcome == Outcome.INCONCLUSIVE:
        live.status = RolloutStatus.HELD
        live.decisions.append(decision)
    return current
