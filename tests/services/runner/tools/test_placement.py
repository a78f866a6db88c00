"""Predictions known to be cheap run on the event loop; unknown or slow ones in a worker thread."""

from __future__ import annotations

import threading
import time
from typing import Protocol

import anyio

from services.runner.tools.placement import INLINE_BELOW_S, PredictionPlacement


class Router:
    """Records the thread of each prediction; ``delay`` makes it slow."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.threads: list[int] = []

    def predict(self, text: str, arm: str) -> str:
        self.threads.append(threading.get_ident())
        if self.delay:
            time.sleep(self.delay)
        return f"{arm}:{text}"


class Predictor(Protocol):
    threads: list[int]

    def predict(self, text: str, arm: str) -> str: ...


def run(placement: PredictionPlacement, router: Predictor, arm: str, times: int) -> list[str]:
    async def calls() -> list[str]:
        return [
            await placement.run(router, arm, lambda: router.predict("hi", arm))
            for _ in range(times)
        ]

    return anyio.run(calls)


def test_a_cheap_arm_runs_on_the_loop_once_measured() -> None:
    placement, router = PredictionPlacement(), Router()
    assert run(placement, router, "centroid", 5) == ["centroid:hi"] * 5
    loop_thread = threading.get_ident()  # anyio.run drives the loop on this thread
    assert router.threads[0] != loop_thread  # unknown cost: a worker thread
    # Measured cheap (one run the machine preempted would not count): on the loop.
    assert router.threads[-2:] == [loop_thread, loop_thread]


def test_a_slow_arm_stays_off_the_loop_and_one_that_slows_down_leaves_it() -> None:
    placement, slow = PredictionPlacement(), Router(delay=3 * INLINE_BELOW_S)
    run(placement, slow, "minilm", 3)
    assert threading.get_ident() not in slow.threads
    cheap = Router()
    run(placement, cheap, "centroid", 2)
    assert placement.inline(cheap, "centroid")
    cheap.delay = 0.05  # one slow run (the machine preempted it) does not move it
    run(placement, cheap, "centroid", 1)
    assert placement.inline(cheap, "centroid")
    run(placement, cheap, "centroid", 3)  # slow for most of its recent runs: it moves
    assert not placement.inline(cheap, "centroid")
    assert cheap.threads[-1] != threading.get_ident()
    assert not placement.inline(Router(), "centroid")  # per router: a new release starts unknown


def test_a_router_that_cannot_be_weakly_referenced_always_runs_in_a_thread() -> None:
    class Slotted:  # no __weakref__: a release's agent code may define its router so
        __slots__ = ("threads",)

        def __init__(self) -> None:
            self.threads: list[int] = []

        def predict(self, text: str, arm: str) -> str:
            self.threads.append(threading.get_ident())
            return f"{arm}:{text}"

    class Unhashable(Router):
        __hash__ = None  # type: ignore[assignment]  # e.g. a dataclass with eq

    placement = PredictionPlacement()
    routers: list[Predictor] = [Slotted(), Unhashable()]
    for router in routers:
        assert run(placement, router, "centroid", 3) == ["centroid:hi"] * 3
        assert threading.get_ident() not in router.threads
