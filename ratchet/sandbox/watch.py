"""A limit the kernel cannot hold alone, checked from a thread while a sandbox runs."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Watch:
    """Calls ``on_trip`` once, the first time ``broken()`` holds, checking every
    ``poll_s`` seconds until :meth:`stop`; ``tripped`` says whether it did."""

    def __init__(
        self, name: str, broken: Callable[[], bool], on_trip: Callable[[], None], poll_s: float
    ) -> None:
        self.tripped = False
        self._broken, self._on_trip, self._poll_s = broken, on_trip, poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._poll_s):
            if self._broken():
                self.tripped = True
                self._on_trip()
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
