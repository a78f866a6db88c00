"""A person ends the live rollout: ``ratchet rollout promote|abort`` and the Architect's REST.

Both surfaces act here, on the home's state through the core, so a decision by
hand is recorded exactly as the controller's are (a :class:`Decision` with the
person as actor) and starts the next queued release the same way.
"""

from __future__ import annotations

import logging

from ratchet.ci.budgets import load_budgets
from ratchet.config import CommonSettings
from ratchet.errors import CorruptDocumentError
from ratchet.rollouts.delivery import conclude
from ratchet.rollouts.model import Decision, Outcome, Rollout
from ratchet.rollouts.revert import revert_aborted
from ratchet.rollouts.store import RolloutStore
from ratchet.state import StateManager
from ratchet.vcs import ReleaseStore

log = logging.getLogger(__name__)

DEFAULT_FIRST_WEIGHT = 0.1  # the share of new conversations a canary starts with
BY_HAND = {Outcome.PROMOTE: "promoted by hand", Outcome.ABORT: "aborted by hand"}


def first_weight(settings: CommonSettings) -> float:
    """The weight a rollout starts at: the first step of the budgets' ``rollout`` section.

    Ending a rollout by hand starts the next queued one, so it needs this; a
    budgets file that cannot be read must not stop a person from aborting, so
    that case (and budgets without the section) falls back to the default.
    """
    try:
        return load_budgets(settings.workspace_path).rollout.first_weight
    except CorruptDocumentError as exc:
        log.warning("first rollout weight %g: %s", DEFAULT_FIRST_WEIGHT, exc)
        return DEFAULT_FIRST_WEIGHT


def end_by_hand(
    manager: StateManager,
    rollouts: RolloutStore,
    outcome: Outcome,
    *,
    reason: str,
    first_weight: float,
    actor: str = "human",
    rollout_id: str | None = None,
    releases: ReleaseStore | None = None,
) -> Rollout:
    """Promote or abort the live rollout for a person; the ended rollout. An abort is
    followed by the revert of the aborted release on main when ``releases`` is given.

    ConflictError (409 over REST, exit 1 on the command line) when none is live.
    """
    said = reason.strip() or BY_HAND.get(outcome, f"{outcome.value} by hand")
    # conclude() records the live rollout's step and weight on the decision
    decision = Decision(outcome=outcome, step=0, weight=0.0, actor=actor, reasons=[said])
    ended = conclude(manager, rollouts, decision, rollout_id=rollout_id, first_weight=first_weight)
    if outcome == Outcome.ABORT and releases is not None:
        revert_aborted(releases, manager, ended)
    return ended
