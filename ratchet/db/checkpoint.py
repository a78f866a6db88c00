"""Checkpoints of a SQLite file's write-ahead log, beside its writers.

In WAL mode a commit appends the pages it changed to the log, and SQLite copies
the log back into the database file (a checkpoint) from inside the commit that
takes the log past 1,000 pages, with an fsync of each file. Measured on the
Runner: 3-5 ms, in one route call out of ~170 for each of its two files, the
largest stall a single client saw (bench/README.md, "Databases"). Here a
short-lived thread with a connection of its own checkpoints the file shortly
after it is written, passively (it neither waits for nor blocks a writer), so the
fsyncs happen beside the writers instead of inside them.

A passive checkpoint that runs while writers append cannot reach the log's end,
and SQLite starts a log over only once a checkpoint has: the writers' own
checkpoint therefore stays on, at a larger size (:data:`BACKSTOP_PAGES`), to end
each log. By then the thread has copied all but the last few pages, so that
checkpoint's fsyncs have little to write.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

DELAY_S = 0.2
"""From the first commit after a checkpoint to the next checkpoint: the commits of
that time share its fsyncs."""
BACKSTOP_PAGES = 4000
"""The writers' own checkpoint: the log's size (pages, 4 KiB each) that makes a commit
checkpoint, SQLite's 1,000 otherwise."""

log = logging.getLogger(__name__)


class WalCheckpointer:
    """Checkpoints one SQLite file ``DELAY_S`` after a commit; a thread only while one
    is due, so an idle or forgotten database holds no thread and no connection."""

    def __init__(self, path: Path, delay_s: float = DELAY_S) -> None:
        self.path = path
        self.delay_s = delay_s
        self.checkpoints = 0  # passive checkpoints run, for tests and diagnostics
        self._lock = threading.Lock()
        self._due: threading.Timer | None = None  # scheduled or running
        self._closed = False

    def written(self) -> None:
        """A commit appended to the log: checkpoint it soon, unless that is already due."""
        if self._due is not None:  # every commit's path: no lock while one is due
            return
        with self._lock:
            if self._due is None and not self._closed:
                self._due = threading.Timer(self.delay_s, self._checkpoint)
                self._due.name = f"wal-checkpoint {self.path.name}"
                self._due.daemon = True
                self._due.start()

    def _checkpoint(self) -> None:
        try:
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            try:
                connection.execute("PRAGMA synchronous=NORMAL")
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                self.checkpoints += 1
            finally:
                connection.close()
        except sqlite3.Error as exc:  # the writers' own checkpoint still ends the log
            log.warning("checkpoint of %s failed: %s", self.path, exc)
        finally:
            with self._lock:
                self._due = None  # the next commit schedules the next checkpoint

    def close(self) -> None:
        """Cancel a scheduled checkpoint and wait for a running one."""
        with self._lock:
            self._closed = True
            due = self._due
        if due is not None:
            due.cancel()
            due.join()
