"""The fast tier (about a minute): the candidate's unit tests, then dev-split accuracy.

Both run in child processes from the candidate's code root with the tier's
memory limit and inside the tier's time limit. The dev split is read from
``data_root`` (the active release's tree, which no candidate can change), and
the verdict is computed here, in the static harness, against the budgets.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ratchet import datasets
from ratchet.ci.agent_process import AgentRefused, agent_process
from ratchet.ci.budgets import Budgets, at_least, load_budgets
from ratchet.ci.limits import candidate_env, memory_cap
from ratchet.ci.report import TierReport
from ratchet.errors import RatchetError
from ratchet.state import StateDocument

TAIL_LINES = 15


def run_unit_tests(
    code_root: Path, paths: Sequence[str], seconds: float, memory_mb: int
) -> tuple[bool, str]:
    """Run the candidate's pytest ``paths`` (not the slow ones); (passed, output tail)."""
    command = [sys.executable, "-m", "pytest", "-q", "-x", "-m", "not slow"]
    command += ["-p", "no:cacheprovider", *paths]
    try:
        done = subprocess.run(
            command,
            cwd=code_root,
            env=candidate_env(code_root),
            capture_output=True,
            text=True,
            timeout=max(seconds, 1.0),
            preexec_fn=memory_cap(memory_mb),
        )
    except subprocess.TimeoutExpired:
        return False, f"unit tests ran out of the tier's time ({seconds:.0f} s left)"
    tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-TAIL_LINES:])
    return done.returncode == 0, tail


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
    except RatchetError as exc:
        return TierReport.failed("fast", 0.0, f"cannot read the tier's inputs: {exc}")
    limits = budgets.limits("fast")
    details: dict[str, object] = {}
    if unit_tests:
        passed, tail = run_unit_tests(
            code_root, unit_tests, limits.time_limit_s, limits.memory_limit_mb
        )
        details["unit_tests"] = {"paths": list(unit_tests), "passed": passed, "output": tail}
        if not passed:
            last = tail.splitlines()[-1] if tail else "no output"
            report = TierReport.failed("fast", time.monotonic() - started, f"unit tests: {last}")
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
    if seconds > limits.time_limit_s:
        reasons.append(f"took {seconds:.1f} s, over the tier's {limits.time_limit_s:.0f} s")
    details["dev_examples"] = len(dev)
    return TierReport(
        "fast", not reasons, seconds, {"dev_accuracy": round(accuracy, 6)}, reasons, details
    )
