"""Messages and intents of the task this tree serves, for tests that must pass on any task.

A candidate's fast tier runs the Runner's tests inside a workspace that may
serve another task than the project's: they draw their messages from the
tree's golden cases (``tests/golden/micro.json``), which every release routes
right, never from one task's wording.
"""

from __future__ import annotations

import json

from services.runner.agent.router import IntentRouter
from tests.conftest import PROJECT_ROOT

GOLDEN = PROJECT_ROOT / "tests" / "golden" / "micro.json"


def golden_cases() -> list[dict[str, str]]:
    """The tree's golden cases: ``{"text", "intent"}``, in the file's order."""
    cases: list[dict[str, str]] = json.loads(GOLDEN.read_text(encoding="utf-8"))["cases"]
    assert len(cases) >= 8, f"{GOLDEN} holds too few cases for the Runner's tests"
    return cases


def messages(count: int) -> list[str]:
    """``count`` distinct messages of the task."""
    return [case["text"] for case in golden_cases()[:count]]


def clear_case(router: IntentRouter) -> dict[str, str]:
    """A golden case that every live arm of ``router`` routes right, whichever arm a
    conversation draws (the first such case: the choice is deterministic)."""
    arms = list(router.state.strategy.live())
    for case in golden_cases():
        if all(router.predict(case["text"], arm).intent == case["intent"] for arm in arms):
            return case
    raise AssertionError(f"no golden case is routed right by every live arm ({arms})")
