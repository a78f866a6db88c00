"""Deleting a store's old rows beside its writers, a few at a time.

A table that gains a row per served call (the audit log: about 300 bytes a
call, tens of gigabytes a month at hundreds of calls a second) must not fill the
disk by default. One ``DELETE`` of a day's rows would hold the database's write
lock for seconds: on SQLite every writer of the file waits for it, the Runner's
route calls included. So a thread deletes in small batches with a pause between
them, at start and then every :data:`INTERVAL_S`, and a writer waits at most for
one batch. The space freed is reused by new rows; an SQLite file stops growing
instead of shrinking (``VACUUM`` would hold the lock for the whole file).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

INTERVAL_S = 600.0
"""Seconds between sweeps: each then deletes about this long's worth of rows."""
BATCH_ROWS = 500
"""Rows one delete (one short write transaction) removes at most."""
PAUSE_S = 0.02
"""Between two batches of a sweep: the writers' turn at the lock."""
DAY_S = 86_400.0

Prune = Callable[[float, int], int]
"""``prune(before, limit)``: delete at most ``limit`` rows older than ``before`` (epoch
seconds); return how many it deleted."""

log = logging.getLogger(__name__)


class RetentionSweeper:
    """Keeps the last ``days`` of a store's rows, from a daemon thread of its own.

    ``days`` 0 keeps everything (no thread). A failed sweep is logged and the next
    one tries again: retention never stops the process that owns the store.
    """

    def __init__(
        self,
        name: str,
        prune: Prune,
        days: int,
        *,
        interval_s: float = INTERVAL_S,
        batch_rows: int = BATCH_ROWS,
        pause_s: float = PAUSE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.prune = prune
        self.days = days
        self.interval_s = interval_s
        self.batch_rows = batch_rows
        self.pause_s = pause_s
        self.clock = clock
        self.sweeps = 0  # sweeps run (failed ones too), for tests and diagnostics
        self.deleted = 0  # rows deleted by them
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.days <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._run, name=f"retention {self.name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """End the thread; a sweep in progress stops after its current batch."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def sweep(self) -> int:
        """Delete every row older than the kept days, batch by batch; how many."""
        before = self.clock() - self.days * DAY_S
        deleted = 0
        while True:
            count = self.prune(before, self.batch_rows)
            deleted += count
            self.deleted += count
            if count < self.batch_rows or self._stop.wait(self.pause_s):
                return deleted

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                deleted = self.sweep()
            except Exception as exc:  # a locked or unreachable database: next time
                log.warning("retention sweep of %s failed: %s", self.name, exc)
            else:
                if deleted:
                    log.info(
                        "retention: deleted %d %s older than %d days", deleted, self.name, self.days
                    )
            self.sweeps += 1
            self._stop.wait(self.interval_s)
