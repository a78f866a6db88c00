"""Order statistics shared by the benches: one definition of a percentile."""

from __future__ import annotations

from collections.abc import Iterable


def percentile(samples: Iterable[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0..100) of ``samples``; no interpolation,
    so the answer is always a measured value."""
    ordered = sorted(samples)
    if not ordered:
        raise ValueError("no samples")
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]
