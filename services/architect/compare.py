"""Judging candidates against the active version: dev first (the cascade), held-out after.

Every candidate that passed ``fast`` is judged on dev accuracy against the
active version's: a coder that must improve (an autonomous one) must beat it
by more than the budgets' noise margin, a human's change only not fall below
it by more. The survivors are ranked by dev accuracy and only the best goes
to ``full``, whose held-out accuracy may not fall below the active version's
by more than the margin either. Budgets (minimum accuracies, latency, error
rate) are held by the tiers themselves: latency and error rate are too noisy
to compare between runs, so they are judged by their absolute budgets only.
"""

from __future__ import annotations

from collections.abc import Sequence

from .baseline import Baseline
from .candidates import Candidate


def dev_verdict(candidate: Candidate, base: Baseline, *, must_improve: bool) -> str | None:
    """Why the candidate may not go on, judged on dev accuracy; None if it may."""
    ours, theirs = candidate.metric("dev_accuracy"), base.metric("dev_accuracy")
    margin = candidate.noise_margin
    if ours is None:
        return "the fast tier measured no dev accuracy"
    if theirs is None:
        return f"{base.version} has no dev accuracy to compare with" if must_improve else None
    if must_improve and ours <= theirs + margin:
        return (
            f"dev {ours:.4f} does not beat {base.version}'s {theirs:.4f} by more than the "
            f"noise margin {margin}"
        )
    if ours < theirs - margin:
        return (
            f"dev {ours:.4f} regresses from {base.version}'s {theirs:.4f} by more than the "
            f"noise margin {margin}"
        )
    return None


def heldout_verdict(candidate: Candidate, base: Baseline) -> str | None:
    """Why the candidate may not be released, judged on held-out accuracy; None if it may."""
    ours, theirs = candidate.metric("heldout_accuracy"), base.metric("heldout_accuracy")
    if ours is None:
        return "the full tier measured no held-out accuracy"
    if theirs is not None and ours < theirs - candidate.noise_margin:
        return (
            f"held-out {ours:.4f} regresses from {base.version}'s {theirs:.4f} by more than "
            f"the noise margin {candidate.noise_margin}"
        )
    return None


def by_dev(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Best dev accuracy first; ties go to the coder's own order."""
    return sorted(candidates, key=lambda c: (-(c.metric("dev_accuracy") or 0.0), c.index))
