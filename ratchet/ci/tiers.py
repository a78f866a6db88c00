"""The tier runner: micro → fast → full, stopping at the first tier that fails.

One entry point for the Architect's jobs and ``ratchet eval --tier``: each
tier runs the code under ``code_root`` in its own processes with its limits,
and reports its timing, metrics and verdict against ``ci/budgets.json``.
``data_root`` is where the training splits are read from: a tree the
candidate cannot change (the active release's), so no candidate grades itself
on its own data. The held-out split is in no tree at all: the full tier reads
it from ``CiOptions.heldout``, the home's vault.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ratchet.ci.budgets import TIERS
from ratchet.ci.fast import run_fast
from ratchet.ci.full import run_full
from ratchet.ci.micro import run_micro
from ratchet.ci.report import TierReport
from ratchet.sandbox import sandbox_support
from ratchet.state import StateDocument


@dataclass(frozen=True)
class CiOptions:
    unit_tests: tuple[str, ...] = ("tests/services/runner",)  # the fast tier's pytest paths
    shards: int = 1  # concurrent MCP clients in the full tier
    heldout_sample: int | None = None  # None: the whole held-out split
    # The home's held-out vault (`<home>/heldout`); None: the data tree's own
    # test.csv, which only a project checkout has.
    heldout: Path | None = None


def run_tier(
    tier: str,
    state: StateDocument,
    code_root: Path,
    data_root: Path,
    options: CiOptions | None = None,
) -> TierReport:
    options = options or CiOptions()
    if tier == "micro":
        micro = run_micro(state, code_root)
        return TierReport(
            "micro",
            micro.passed,
            micro.seconds,
            reasons=[] if micro.passed else micro.failures,
            details={"cases": micro.cases},
        )
    if tier == "fast":
        return run_fast(state, code_root, data_root, unit_tests=options.unit_tests)
    if tier == "full":
        return run_full(
            state,
            code_root,
            data_root,
            shards=options.shards,
            sample=options.heldout_sample,
            heldout=options.heldout,
        )
    raise ValueError(f"unknown tier {tier!r}: expected one of {', '.join(TIERS)}")


def tiers_up_to(last: str) -> tuple[str, ...]:
    """The tiers a run up to ``last`` includes (``full`` runs all three)."""
    if last not in TIERS:
        raise ValueError(f"unknown tier {last!r}: expected one of {', '.join(TIERS)}")
    return TIERS[: TIERS.index(last) + 1]


def run_tiers(
    state: StateDocument,
    code_root: Path,
    data_root: Path,
    *,
    tiers: Sequence[str] = TIERS,
    options: CiOptions | None = None,
    on_report: Callable[[TierReport], None] | None = None,
) -> list[TierReport]:
    """Run ``tiers`` in order; stop after the first failure. ``on_report`` sees each."""
    reports: list[TierReport] = []
    for tier in tiers:
        report = run_tier(tier, state, code_root, data_root, options)
        reports.append(report)
        if on_report is not None:
            on_report(report)
        if not report.passed:
            break
    return reports


def summary_of(reports: Sequence[TierReport]) -> dict[str, Any]:
    """The eval summary's body: key metrics at the top level, each tier in ``tiers``.

    Field names are the ones the Versions API reads (``heldout_accuracy``,
    ``dev_accuracy``, ``p95_latency_ms``, ``error_rate``); ``sandbox`` says what the
    tiers' candidate processes ran under (:meth:`ratchet.sandbox.SandboxSupport.to_json`).
    """
    body: dict[str, Any] = {
        "passed": all(r.passed for r in reports),
        "tiers": {},
        "sandbox": sandbox_support().to_json(),
    }
    for report in reports:
        body["tiers"][report.tier] = report.to_json()
        for name, value in report.metrics.items():
            body[name] = value
    return body
