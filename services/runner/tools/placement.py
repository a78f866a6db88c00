"""Where a prediction runs: on the event loop when it is known to be cheap, else in a
worker thread.

A worker thread keeps a model that computes for milliseconds (a sentence
embedding) from holding every concurrent call behind it, but the hop there and
back costs more than a linear model's whole prediction (measured:
bench/README.md, "Databases"). Each router's arm is placed by the median of
its last few durations (a run the machine preempted does not move it): unknown
or slow runs in a thread, cheap runs inline, and every run counts, so an arm
that slows down moves back to a thread.
"""

from __future__ import annotations

import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread

INLINE_BELOW_S = 0.001  # a prediction this short runs on the loop
_RECENT = 5  # durations kept per arm

P = TypeVar("P")


class PredictionPlacement:
    """Runs predictions where they cost least; one per process (per route tool)."""

    def __init__(self) -> None:
        # Per router (a release's, dropped with it) and arm: its last durations, seconds.
        self._recent: weakref.WeakKeyDictionary[object, dict[str, deque[float]]] = (
            weakref.WeakKeyDictionary()
        )

    def inline(self, router: object, arm: str) -> bool:
        return _cheap(self._arms(router).get(arm))

    def _arms(self, router: object) -> dict[str, deque[float]]:
        """``router``'s arms' durations; a router that cannot be weakly referenced (a
        release's agent code decides its class) is never measured, so runs in a thread."""
        try:
            return self._recent.setdefault(router, {})
        except TypeError:
            return {}

    async def run(self, router: object, arm: str, predict: Callable[[], P]) -> P:
        """``predict()``, which is ``router``'s prediction with ``arm``."""
        arms = self._arms(router)  # looked up once: this is every route call's path
        if _cheap(arms.get(arm)):
            prediction, took = _timed(predict)
        else:
            prediction, took = await anyio.to_thread.run_sync(_timed, predict)
        arms.setdefault(arm, deque(maxlen=_RECENT)).append(took)
        return prediction


def _cheap(recent: deque[float] | None) -> bool:
    if not recent:
        return False
    # The lower median, without the statistics module's generality on every call.
    return sorted(recent)[(len(recent) - 1) // 2] < INLINE_BELOW_S


def _timed(predict: Callable[[], P]) -> tuple[P, float]:
    started = time.perf_counter()
    prediction = predict()
    return prediction, time.perf_counter() - started
