"""The demo's second Architect job: what the support lead writes when a release is not enough.

The Triggerer pages on a fast burn of the error budget; a release that routes
93.7% against a 95% objective burns it at 1.3x, too slowly to page. A person
watching the accuracy would still ask for more, in words: this module writes
that feedback from what the demo measured (the served accuracy of the traffic
after the release, the intents the release routes worst), and the Architect's
template coder reads it like any other.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from ratchet.ci.budgets import load_budgets
from services.architect.triggerer.slo import parse_slos

from .traffic import Turn

SLO = "routing_accuracy"


def routing_objective(code_root: Path) -> float:
    """The routing-accuracy SLO's objective (ci/budgets.json `slos`), e.g. 0.95."""
    return parse_slos(load_budgets(code_root)).slos[SLO].objective


def served_accuracy(turns: Sequence[Turn], phase: str) -> float | None:
    """The share of ``phase``'s turns answered right; None when there were none."""
    chosen = [turn for turn in turns if turn.phase == phase]
    return sum(turn.right for turn in chosen) / len(chosen) if chosen else None


def feedback_text(
    turns: Sequence[Turn], phase: str, version: str, objective: float, worst: int = 5
) -> str | None:
    """The feedback for the Architect when ``phase``'s served accuracy is under
    ``objective``; None when it is not (nothing to ask for)."""
    accuracy = served_accuracy(turns, phase)
    if accuracy is None or accuracy >= objective:
        return None
    wrong = Counter(t.intent for t in turns if t.phase == phase and not t.right)
    intents = ", ".join(intent for intent, _ in wrong.most_common(worst))
    return (
        f"Messages are still misrouted on {version}: {accuracy:.1%} of the conversations "
        f"we corrected were routed right, against the {objective:.0%} routing_accuracy "
        f"objective. The corrections are mostly paraphrases of {intents}: the model "
        "confuses intents whose customers describe the same problem in other words."
    )
