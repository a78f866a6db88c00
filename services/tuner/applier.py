"""Applying stored feedback to staging, off the request path.

The feedback table is the durable log and staging is derived from it, so a
``feedback`` call only has to store its row (one SQLite commit) before it
answers; a background thread folds everything pending into staging with one
fsynced compare-and-swap per batch. Under load one write serves many calls,
and no call waits on the disk unless it asks to (``wait``). Batches are paced
(at most one per ``APPLY_INTERVAL_S``): a thread that re-applied as soon as
anything was pending wrote a batch of a few rows at a time, and its writes took
the CPU the calls needed (measured: bench/README.md, "Databases").
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ratchet.state import StateDocument

from .intake import WATERMARK, Intake

log = logging.getLogger(__name__)
IDLE_EXIT_S = 2.0  # the thread ends when idle this long and starts again on the next kick
WAIT_LIMIT_S = 60.0
APPLY_INTERVAL_S = 0.1  # under load: one staging write per this long, whatever the call rate


def watermark(document: StateDocument | None) -> int:
    return int(((document.tuning if document else None) or {}).get(WATERMARK, 0))


class Applier:
    def __init__(self, intake: Intake, on_applied: Callable[[StateDocument], None]) -> None:
        self.intake = intake
        self.on_applied = on_applied
        self.last: StateDocument | None = None
        self._wake = threading.Event()
        self._urgent = threading.Event()  # a caller waits for its feedback: no pacing
        self._applied_at = float("-inf")
        self._applied = threading.Condition()
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()

    def kick(self) -> None:
        """Apply what is pending soon (starts the thread if it is not running)."""
        self._wake.set()
        with self._thread_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="applier", daemon=True)
                self._thread.start()

    def wait_for(self, feedback_id: int) -> StateDocument:
        """Block until staging holds ``feedback_id`` (the thread does the writing)."""
        deadline = time.monotonic() + WAIT_LIMIT_S
        with self._applied:
            while watermark(self.last) < feedback_id:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"feedback {feedback_id} not applied in {WAIT_LIMIT_S} s")
                self._urgent.set()
                self.kick()
                self._applied.wait(timeout=0.5)
            assert self.last is not None
            return self.last

    def _run(self) -> None:
        while self._wake.wait(timeout=IDLE_EXIT_S):
            self._urgent.wait(timeout=self._applied_at + APPLY_INTERVAL_S - time.monotonic())
            self._wake.clear()
            self._urgent.clear()
            try:
                document = self.intake.apply_pending()
            except Exception:  # the log keeps the rows: retried on the next kick
                log.exception("applying feedback failed; it stays pending")
                time.sleep(0.5)
                continue
            self._applied_at = time.monotonic()
            with self._applied:
                self.last = document
                self._applied.notify_all()
            try:
                self.on_applied(document)
            except Exception:
                log.exception("after-apply hook failed")
