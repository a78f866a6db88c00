"""Staging follows the active release: rebased on it when a move left it behind.

After an Architect release (new code, new arms and params) or a rollback,
staging still holds the state of the release it was made from
(:mod:`ratchet.state.drift`); releasing it as is would put that state back on
the new code. So before feedback is applied or a patch is made, staging is
rebased on the active state, a three-way merge of base B (the state staging
was made from), staging S and active A:

- the result declares what A declares: arms and params A no longer declares
  are dropped, new ones come with A's values;
- a value S changed and A did not keeps S's (the Tuner's unreleased work:
  tuned params, mined rules, fitted replies); anything A changed takes A's;
  a param is one value (its value and bounds move together);
- an arm's Beta posterior is A's plus the feedback S added since B
  (``alpha_A + alpha_S - alpha_B``), so no feedback is lost or counted twice;
- the bookkeeping in ``tuning`` (feedback watermark and counts, tune records)
  is S's, with the pointer revision staging now follows (``based_on``).

With B unknown (a staging older than this record, left behind before its
first move was seen) every conflict goes to A. The rebase is one
compare-and-swap, in the same write as the feedback applied after it.
"""

from __future__ import annotations

from typing import Any

from ratchet.state import StateDocument, StateManager
from ratchet.state.drift import Drift, drift

BASED_ON = "based_on"  # in staging's `tuning`: the pointer revision it follows
COUNTS = frozenset({"alpha", "beta"})
_MISSING = object()


def based_on(document: StateDocument) -> int | None:
    """The pointer revision ``document`` (staging) was last placed on, if recorded."""
    revision = (document.tuning or {}).get(BASED_ON)
    return int(revision) if revision is not None else None


def _is_count(path: tuple[str, ...]) -> bool:
    return len(path) == 4 and path[:2] == ("strategy", "arms") and path[3] in COUNTS


def _merge(base: Any, ours: Any, theirs: Any, path: tuple[str, ...]) -> Any:
    """Three-way merge of one value; ``theirs`` (the active state) wins conflicts."""
    if ours == base:
        return theirs
    if theirs == base:
        return ours
    if _is_count(path) and all(isinstance(v, int | float) for v in (base, ours, theirs)):
        return float(theirs) + float(ours) - float(base)
    atomic = len(path) == 2 and path[0] == "params"
    if atomic or not isinstance(theirs, dict) or not isinstance(ours, dict):
        return theirs
    merged = {}
    for key, value in theirs.items():  # what the active state declares, nothing more
        mine = ours.get(key, _MISSING)
        was = base.get(key, _MISSING) if isinstance(base, dict) else _MISSING
        merged[key] = value if mine is _MISSING else _merge(was, mine, value, (*path, key))
    return merged


def rebased_data(
    base: dict[str, Any] | None, staging: dict[str, Any], active: dict[str, Any]
) -> dict[str, Any]:
    """Pure: ``staging``'s work since ``base`` carried onto ``active`` (rules above)."""
    merged = _merge(_MISSING if base is None else base, staging, active, ())
    assert isinstance(merged, dict)
    return merged


def follow(
    manager: StateManager, document: StateDocument
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Staging ``document`` placed on the pointer: (data, tuning) to write, or None when
    it is in line and says so already."""
    where: Drift | None = drift(manager, document, based_on(document))
    if where is None or (not where.left_behind and based_on(document) == where.pointer.revision):
        return None
    tuning = {**(document.tuning or {}), BASED_ON: where.pointer.revision}
    if where.active is None:
        return document.data, tuning
    base = None if where.base is None else where.base.data
    return rebased_data(base, document.data, where.active.data), tuning


def follow_active(manager: StateManager) -> StateDocument:
    """Staging, rebased on the active state first if a move left it behind (CAS)."""
    return manager.update_staging_document(lambda d: follow(manager, d), actor="tuner")


def placed(
    document: StateDocument, result: tuple[dict[str, Any], dict[str, Any]] | None
) -> StateDocument:
    """``document`` with ``follow``'s result, to apply more changes in the same write."""
    if result is None:
        return document
    return document.model_copy(update={"data": result[0], "tuning": result[1]})
