"""Compare candidates with the active version: keep the best that does not regress.

Accuracy (held-out, dev) may not fall below the active version's by more than
the budgets' noise margin; a coder that must improve (an autonomous one) must
also beat the active held-out accuracy. Latency and error rate are judged by
their absolute budgets in the full tier: they are too noisy to compare runs.
"""

from __future__ import annotations

from collections.abc import Sequence

from .baseline import Baseline
from .candidates import Candidate

COMPARED = ("heldout_accuracy", "dev_accuracy")


def regressions(candidate: Candidate, base: Baseline, *, must_improve: bool) -> list[str]:
    found = []
    for name in COMPARED:
        ours, theirs = candidate.metric(name), base.metric(name)
        if ours is None or theirs is None:
            continue
        if ours < theirs - candidate.noise_margin:
            found.append(
                f"{name} {ours:.4f} regresses from {theirs:.4f} ({base.version}) by more "
                f"than the noise margin {candidate.noise_margin}"
            )
    if must_improve:
        ours, theirs = candidate.metric("heldout_accuracy"), base.metric("heldout_accuracy")
        if ours is not None and theirs is not None and ours <= theirs:
            found.append(f"heldout_accuracy {ours:.4f} does not improve on {theirs:.4f}")
    return found


def best(candidates: Sequence[Candidate]) -> Candidate:
    return max(candidates, key=lambda c: (c.metric("heldout_accuracy") or 0.0, -c.index))
