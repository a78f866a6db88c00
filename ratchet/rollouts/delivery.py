"""How a release reaches traffic: at once, or as the canary of a rollout.

Every releaser (the Tuner's promote, the Architect's release, a person) hands
its new version to :func:`deliver`. With ``RATCHET_ROLLOUT=immediate`` the
pointer moves at once, as before rollouts existed. Otherwise the release is
queued as a rollout and, when no other rollout is live, starts as the canary
at the first step's weight. The rollout record is written first and the
pointer made to match it after (:func:`reconcile`), so a crash between the
two writes is finished by the next reconcile, which the controller runs on
every tick and at start.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ratchet.ci.budgets import load_budgets
from ratchet.config import CommonSettings, RolloutMode
from ratchet.errors import ConflictError, PinnedError
from ratchet.rollouts.model import Decision, Outcome, Rollout, RolloutStatus, Side
from ratchet.rollouts.store import RolloutStore, live_of, next_id, next_queued
from ratchet.state import Pointer, StateDocument, StateManager
from ratchet.state.document import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Delivery:
    """What became of a release: served at once (``rollout`` None) or in a rollout."""

    version: str
    rollout: Rollout | None = None

    @property
    def describe(self) -> str:
        if self.rollout is None:
            return f"{self.version}, active"
        if self.rollout.status == RolloutStatus.QUEUED:
            return f"{self.version}, queued as rollout {self.rollout.id}"
        if self.rollout.status.ended:
            return f"{self.version}, {self.rollout.status.value} by rollout {self.rollout.id}"
        return (
            f"{self.version}, the canary of rollout {self.rollout.id} "
            f"at weight {self.rollout.weight:g}"
        )


@dataclass(frozen=True, slots=True)
class Deliverer:
    """How the releasers of one home deliver: its mode, rollouts and budgets."""

    manager: StateManager
    rollouts: RolloutStore
    mode: RolloutMode
    code_root: Path  # whose ci/budgets.json holds the steps: the workspace (latest release)

    @classmethod
    def of(cls, settings: CommonSettings, manager: StateManager) -> Deliverer:
        return cls(manager, RolloutStore(manager.store), settings.rollout, settings.workspace_path)

    def first_weight(self) -> float:
        return load_budgets(self.code_root).rollout.first_weight

    def __call__(
        self, version: str, document: StateDocument, *, commit: str | None, actor: str, reason: str
    ) -> Delivery:
        return deliver(
            self.manager,
            self.rollouts,
            mode=self.mode,
            first_weight=self.first_weight() if self.mode == RolloutMode.PROGRESSIVE else 0.0,
            version=version,
            document=document,
            commit=commit,
            actor=actor,
            reason=reason,
        )

    def describe(self, version: str) -> str:
        """Where release ``version`` stands: active, queued, or a canary at its weight."""
        return Delivery(version, self.rollouts.of_version(version)).describe


def deliver(
    manager: StateManager,
    rollouts: RolloutStore,
    *,
    mode: RolloutMode,
    first_weight: float,
    version: str,
    document: StateDocument,
    commit: str | None,
    actor: str,
    reason: str,
) -> Delivery:
    """Serve release ``version`` (its state ``document`` at ``commit``) as ``mode`` says.

    The first release of a home is always activated at once: there is no
    stable version to compare a canary against.
    """
    if mode == RolloutMode.IMMEDIATE or manager.pointer() is None:
        manager.activate(version, document, actor=actor, reason=reason, commit=commit)
        return Delivery(version)
    manager.refuse_if_pinned()
    side = Side.of_document(version, commit, manager.record_state(document), document)

    def enqueue(current: list[Rollout]) -> list[Rollout] | None:
        if any(r.version == version for r in current):
            return None  # delivered already (a retried release)
        return [*current, Rollout(id=next_id(current), canary=side, author=actor, reason=reason)]

    rollouts.update(enqueue)
    start_next(manager, rollouts, first_weight)
    rollout = rollouts.of_version(version)
    return Delivery(version, rollout)


def start_next(manager: StateManager, rollouts: RolloutStore, first_weight: float) -> None:
    """Start the oldest queued rollout if none is live, then make the pointer match."""
    reconcile(manager, rollouts)  # an ended rollout first: the next one starts on its result
    pointer = manager.pointer()
    if pointer is not None:

        def start(current: list[Rollout]) -> list[Rollout] | None:
            queued = next_queued(current)
            if live_of(current) is not None or queued is None:
                return None
            now = utcnow()
            queued.status, queued.started_at, queued.step_started_at = (
                RolloutStatus.RUNNING,
                now,
                now,
            )
            queued.stable, queued.step, queued.weight = Side.of_pointer(pointer), 0, first_weight
            return current

        rollouts.update(start)
    reconcile(manager, rollouts)


def conclude(
    manager: StateManager,
    rollouts: RolloutStore,
    decision: Decision,
    *,
    rollout_id: str | None = None,
    first_weight: float,
) -> Rollout:
    """End the live rollout (``rollout_id``: it must be that one) with ``decision``
    (promote or abort), apply it to the pointer and start the next queued release.
    ConflictError when no rollout is live: there is nothing to promote or abort."""
    if decision.outcome not in (Outcome.PROMOTE, Outcome.ABORT):
        raise ValueError(f"a rollout ends by promote or abort, not {decision.outcome}")
    ended: list[Rollout] = []

    def end(current: list[Rollout]) -> list[Rollout]:
        live = live_of(current)
        if live is None or (rollout_id is not None and live.id != rollout_id):
            ended.clear()
            wanted = f"rollout {rollout_id} is not live" if rollout_id else "no rollout is live"
            raise ConflictError(f"{wanted}: nothing to {decision.outcome.value}")
        promoted = decision.outcome == Outcome.PROMOTE
        live.status = RolloutStatus.PROMOTED if promoted else RolloutStatus.ABORTED
        live.ended_at, live.applied = utcnow(), False
        # the step and weight it was decided at (a person's decision knows neither)
        live.decisions.append(
            decision.model_copy(update={"step": live.step, "weight": live.weight})
        )
        live.weight = 1.0 if promoted else 0.0
        ended[:] = [live]
        return current

    rollouts.update(end)
    start_next(manager, rollouts, first_weight)
    return rollouts.get(ended[0].id)


def reconcile(manager: StateManager, rollouts: RolloutStore) -> list[str]:
    """Make the pointer say what the rollout records say; what was done.

    A rollout that ended but was not applied (a crash after its record) is
    applied; a live rollout whose stable version was moved by someone else (a
    rollback, an activation by hand) is aborted, since its comparison no
    longer holds; otherwise the pointer's canary is set to the live one's.
    """
    done: list[str] = []
    for rollout in rollouts.all():
        if rollout.status.ended and not rollout.applied:
            done.append(_apply_end(manager, rollouts, rollout))
    pointer = manager.pointer()
    live = rollouts.live()
    if pointer is None:
        return done
    if live is not None and live.stable is not None and pointer.version != live.stable.version:
        _abort_moved(rollouts, live, pointer)
        done.append(f"rollout {live.id} aborted: the stable version moved to {pointer.version}")
        live = None
    want = None if live is None else live.pointer_canary()
    if pointer.canary != want:
        try:
            manager.set_canary(lambda current: want, actor="rollout", reason=_why(live))
        except PinnedError as exc:  # a person froze the pointer: wait until unpinned
            log.warning("rollout waits: %s", exc)
            return done
        done.append(_why(live))
    return done


def _why(live: Rollout | None) -> str:
    if live is None:
        return "no rollout is live: stable alone serves"
    return f"rollout {live.id}: {live.version} at weight {live.weight:g} (step {live.step + 1})"


def _apply_end(manager: StateManager, rollouts: RolloutStore, rollout: Rollout) -> str:
    pointer = manager.pointer()
    verdict = rollout.verdict
    why = "; ".join(verdict.reasons) if verdict else ""
    if rollout.status == RolloutStatus.PROMOTED and (
        pointer is None or pointer.version != rollout.version
    ):
        manager.activate(
            rollout.version,
            manager.snapshot_state(rollout.canary.snapshot),
            actor="rollout",
            reason=f"rollout {rollout.id} promoted" + (f": {why}" if why else ""),
            commit=rollout.canary.commit,
        )
    elif (
        pointer is not None and pointer.canary is not None and pointer.canary.rollout == rollout.id
    ):
        manager.set_canary(
            lambda current: None,
            actor="rollout",
            reason=f"rollout {rollout.id} aborted" + (f": {why}" if why else ""),
        )

    def mark(current: list[Rollout]) -> list[Rollout]:
        for r in current:
            if r.id == rollout.id:
                r.applied = True
        return current

    rollouts.update(mark)
    return f"rollout {rollout.id} {rollout.status.value}: applied to the pointer"


def _abort_moved(rollouts: RolloutStore, live: Rollout, pointer: Pointer) -> None:
    reason = (
        f"the stable version moved from {live.stable.version if live.stable else '?'} to "
        f"{pointer.version} ({pointer.action.value} by {pointer.actor}: {pointer.reason})"
    )

    def end(current: list[Rollout]) -> list[Rollout] | None:
        for r in current:
            if r.id == live.id and r.status.live:
                r.status, r.ended_at, r.applied, r.weight = (
                    RolloutStatus.ABORTED,
                    utcnow(),
                    True,  # the move already took the canary away
                    0.0,
                )
                r.decisions.append(
                    Decision(
                        outcome=Outcome.ABORT,
                        step=r.step,
                        weight=0.0,
                        actor=pointer.actor,
                        reasons=[reason],
                    )
                )
                return current
        return None

    rollouts.update(end)
