"""The active version's scores: what a candidate must not regress from.

Read from the active commit's eval summary when it was measured the way
candidates are (same held-out sample); otherwise the active release's build
is evaluated now (fast and full tiers, its own processes) and the summary is
written for that commit, once, so the next job reads it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ratchet import datasets
from ratchet.ci.full import sample_size
from ratchet.ci.tiers import CiOptions, run_tier, summary_of
from ratchet.errors import ConflictError
from ratchet.objects import ObjectStore
from ratchet.state import ActiveState, StateDocument
from ratchet.tasks.heldout import heldout_examples, heldout_rows

log = logging.getLogger(__name__)


def summary_key(commit: str) -> str:
    return f"evals/{commit}/summary.json"


@dataclass
class Baseline:
    version: str
    commit: str
    summary: dict[str, Any]
    measured_now: bool

    def metric(self, name: str) -> float | None:
        value = self.summary.get(name)
        return float(value) if isinstance(value, int | float) else None

    @property
    def tools(self) -> dict[str, list[dict[str, Any]]]:
        tools: dict[str, list[dict[str, Any]]] = (
            self.summary.get("tiers", {}).get("full", {}).get("tools", {})
        )
        return tools


def _comparable(summary: dict[str, Any], calls: int) -> bool:
    full = summary.get("tiers", {}).get("full", {})
    return full.get("calls") == calls and "tools" in full and "dev_accuracy" in summary


def baseline(
    active: ActiveState, build: Path, objects: ObjectStore, options: CiOptions
) -> Baseline:
    """The scores of ``active`` (served by the code in ``build``)."""
    commit = active.pointer.commit
    assert commit is not None, "the active version has no commit"
    return measured(active.version, commit, active.document, build, objects, options)


def measured(
    version: str,
    commit: str,
    document: StateDocument,
    build: Path,
    objects: ObjectStore,
    options: CiOptions,
) -> Baseline:
    """The scores of release ``version``: its stored summary if comparable, else measured now.

    A summary measured now is written for the commit (once), so the Versions
    API lists it and the next reader does not measure again.
    """
    key = summary_key(commit)
    task = datasets.task(build)
    # The count from the vault's record: only the full tier opens the split.
    rows = heldout_rows(task, options.heldout)
    if rows is None:  # no split anywhere: the error says where it was looked for
        rows = len(heldout_examples(task, options.heldout))
    calls = sample_size(rows, options.heldout_sample)
    stored = objects.get_or_none(key)
    if stored is not None:
        summary = json.loads(stored.data)
        if _comparable(summary, calls):
            return Baseline(version, commit, summary, False)
    reports = [
        run_tier(tier, document, build, build, CiOptions(unit_tests=(), **_rest(options)))
        for tier in ("fast", "full")
    ]
    summary = {"version": version, "commit": commit, "baseline": True, **summary_of(reports)}
    if stored is None:
        try:
            objects.put_once(key, json.dumps(summary, indent=2, sort_keys=True).encode())
        except ConflictError:
            log.info("%s was written meanwhile; keeping the stored one", key)
    return Baseline(version, commit, summary, True)


def _rest(options: CiOptions) -> dict[str, Any]:
    return {
        "shards": options.shards,
        "heldout_sample": options.heldout_sample,
        "heldout": options.heldout,
    }
