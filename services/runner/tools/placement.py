"""Where a prediction runs: on the event loop when it is known to be cheap, else in a
worker thread.

A worker thread keeps a model that computes for milliseconds (a sentence
embedding) from holding every concurrent call behind it, but the hop there and
back costs more than a linear model's whole prediction (measured:
bench/README.md, "Databases"). Each router's arm is placed by its recent
duration: unknown or slow runs in a thread, cheap runs inline, and every run
updates the estimate, so an arm that slows down moves back to a thread.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread

INLINE_BELOW_S = 0.001  # a prediction this short runs on the loop
_WEIGHT = 0.2  # of the newest duration in the moving estimate

P = TypeVar("P")


class PredictionPlacement:
    """Runs predictions where they cost least; one per process (per route tool)."""

    def __init__(self) -> None:
        # Per router (a release's, dropped with it) and arm: seconds per prediction.
        self._cost: weakref.WeakKeyDictionary[object, dict[str, float]] = (
            weakref.WeakKeyDictionary()
        )

    def inline(self, router: object, arm: str) -> bool:
        cost = self._cost.get(router, {}).get(arm)
        return cost is not None and cost < INLINE_BELOW_S

    async def run(self, router: object, arm: str, predict: Callable[[], P]) -> P:
        """``predict()``, which is ``router``'s prediction with ``arm``."""
        if self.inline(router, arm):
            prediction, took = _timed(predict)
        else:
            prediction, took = await anyio.to_thread.run_sync(_timed, predict)
        costs = self._cost.setdefault(router, {})
        cost = costs.get(arm)
        costs[arm] = took if cost is None else cost + _WEIGHT * (took - cost)
        return prediction


def _timed(predict: Callable[[], P]) -> tuple[P, float]:
    started = time.perf_counter()
    prediction = predict()
    return prediction, time.perf_counter() - started
