"""The micro tier: does the agent accept this state, and route every golden case right?

Seconds, and the Tuner's gate before each patch release. The check runs in a
child process started from the code root of the release being tuned (its
commit-scoped build), with the tier's time and memory limits from
``ci/budgets.json``; the golden cases and the verdict live here, in the
static harness, so no candidate can grade itself.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ratchet.state import StateDocument
from ratchet.state.revisioned import dumps

GOLDEN = Path("tests") / "golden" / "micro.json"
BUDGETS = Path("ci") / "budgets.json"


@dataclass
class MicroReport:
    passed: bool
    seconds: float
    cases: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def reason(self) -> str:
        if self.passed:
            return f"micro passed: {self.cases} golden cases in {self.seconds:.1f} s"
        shown = "; ".join(self.failures[:5])
        more = f" (+{len(self.failures) - 5} more)" if len(self.failures) > 5 else ""
        return f"micro failed: {shown}{more}"


def _limits(code_root: Path) -> tuple[float, int]:
    budgets: dict[str, Any] = json.loads((code_root / BUDGETS).read_text())
    tier = budgets["tiers"]["micro"]
    return float(tier["time_limit_s"]), int(tier["memory_limit_mb"])


def run_micro(state: StateDocument, code_root: Path) -> MicroReport:
    """Check ``state`` against the agent code and golden cases under ``code_root``."""
    started = time.monotonic()
    try:
        seconds, memory_mb = _limits(code_root)
        golden = json.loads((code_root / GOLDEN).read_text())["cases"]
    except (OSError, ValueError, KeyError) as exc:
        return MicroReport(False, 0.0, failures=[f"cannot read the tier's inputs: {exc}"])

    def limit_memory() -> None:  # runs in the child before exec
        cap = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    with tempfile.TemporaryDirectory(prefix="ratchet-micro-") as scratch:
        state_path = Path(scratch) / "state.json"
        state_path.write_bytes(dumps(state.to_json()))
        texts_path = Path(scratch) / "texts.json"
        texts_path.write_text(json.dumps([case["text"] for case in golden]))
        try:
            child = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "ratchet.ci.micro_worker",
                    str(state_path),
                    str(texts_path),
                    str(code_root),
                ],
                cwd=code_root,
                env={**os.environ, "PYTHONPATH": str(code_root)},
                capture_output=True,
                text=True,
                timeout=seconds,
                preexec_fn=limit_memory,
            )
        except subprocess.TimeoutExpired:
            return MicroReport(
                False, time.monotonic() - started, failures=[f"timed out after {seconds:.0f} s"]
            )
    elapsed = time.monotonic() - started
    if child.returncode != 0:
        last = (child.stderr.strip().splitlines() or ["no output"])[-1]
        return MicroReport(False, elapsed, failures=[f"the agent refused the state: {last}"])
    answers: list[str] = json.loads(child.stdout)
    failures = [
        f"{case['text']!r} routed to {got}, expected {case['intent']}"
        for case, got in zip(golden, answers, strict=True)
        if got != case["intent"]
    ]
    return MicroReport(not failures, elapsed, len(golden), failures)
