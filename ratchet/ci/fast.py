"""The fast tier (about a minute): the candidate's unit tests, then dev-split accuracy.

Both run in child processes from the candidate's code root with the tier's
memory limit and inside the tier's time limit. The dev split is read from
``data_root`` (the active release's tree, which no candidate can change), and
the verdict is computed here, in the static harness, against the budgets.

For a task with out-of-scope rows it also reports (and, if the budgets say so,
gates) dev in-scope accuracy and out-of-scope recall and precision
(:mod:`ratchet.ci.out_of_scope`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from ratchet import datasets
from ratchet.ci.agent_process import AgentRefused, agent_process
from ratchet.ci.budgets import Budgets, at_least, load_budgets
from ratchet.ci.out_of_scope import judged, oos_label_of
from ratchet.ci.report import TierReport
from ratchet.ci.unit_tests import run_unit_tests
from ratchet.errors import RatchetError
from ratchet.state import StateDocument


def run_fast(
    state: StateDocument,
    code_root: Path,
    data_root: Path,
    *,
    unit_tests: Sequence[str] = (),
    budgets: Budgets | None = None,
) -> TierReport:
    started = time.monotonic()
    try:
        budgets = budgets or load_budgets(code_root)
        dev = datasets.load(data_root, "dev")
        oos_label = oos_label_of(datasets.task(data_root))
    except RatchetError as exc:
        return TierReport.failed("fast", 0.0, f"cannot read the tier's inputs: {exc}")
    limits = budgets.limits("fast")
    details: dict[str, object] = {}
    if unit_tests:
        run = run_unit_tests(
            code_root,
            unit_tests,
            limits.time_limit_s,
            limits.memory_limit_mb,
            max_processes=limits.max_processes,
            disk_mb=limits.max_disk_mb,
        )
        details["unit_tests"] = run.to_json(unit_tests)
        if not run.passed:
            report = TierReport.failed("fast", time.monotonic() - started, run.reason)
            report.details = details
            return report
    try:
        with agent_process(code_root, [e.text for e in dev], "fast") as agent:
            intents = agent.route(state)
    except AgentRefused as exc:
        return TierReport.failed("fast", time.monotonic() - started, str(exc))
    accuracy = sum(got == e.intent for got, e in zip(intents, dev, strict=True)) / len(dev)
    seconds = time.monotonic() - started
    reasons = at_least("dev_accuracy", accuracy, budgets.budgets.min_dev_accuracy)
    scope, gated = judged("dev", dev, intents, oos_label, budgets.budgets)
    reasons += gated
    if seconds > limits.time_limit_s:
        reasons.append(f"took {seconds:.1f} s, over the tier's {limits.time_limit_s:.0f} s")
    details["dev_examples"] = len(dev)
    metrics = {"dev_accuracy": round(accuracy, 6), **scope}
    return TierReport("fast", not reasons, seconds, metrics, reasons, details)
