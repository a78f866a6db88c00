"""The micro tier: does the agent accept this state, and route every golden case right?

Seconds, and the Tuner's gate before each patch release. The check runs in a
child process started from the code root of the release being tuned (its
commit-scoped build), with the tier's time and memory limits from
``ci/budgets.json``. The golden cases are the code root's
``tests/golden/micro.json``, which a candidate may add to but, by the path
policy, not cut or alter without the feedback's authorisation; the verdict is
computed here, in the static harness, so no candidate grades itself.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from ratchet.ci.agent_process import AgentRefused, agent_process
from ratchet.state import StateDocument

GOLDEN = Path("tests") / "golden" / "micro.json"


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


def run_micro(state: StateDocument, code_root: Path) -> MicroReport:
    """Check ``state`` against the agent code and golden cases under ``code_root``."""
    started = time.monotonic()
    try:
        golden = json.loads((code_root / GOLDEN).read_text())["cases"]
        with agent_process(code_root, [case["text"] for case in golden], "micro") as agent:
            answers = agent.route(state)
    except (OSError, ValueError, KeyError) as exc:
        return MicroReport(False, 0.0, failures=[f"cannot read the tier's inputs: {exc}"])
    except AgentRefused as exc:
        return MicroReport(False, time.monotonic() - started, failures=[str(exc)])
    failures = [
        f"{case['text']!r} routed to {got}, expected {case['intent']}"
        for case, got in zip(golden, answers, strict=True)
        if got != case["intent"]
    ]
    return MicroReport(not failures, time.monotonic() - started, len(golden), failures)
