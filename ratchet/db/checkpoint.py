"""Checkpoints of a SQLite file's write-ahead log, beside its writers.

In WAL mode a commit appends the pages it changed to the log, and SQLite copies
the log back into the database file (a checkpoint) from inside the commit that
takes the log past 1,000 pages, with an fsync of each file. Measured on the
Runner: 3-5 ms, in one route call out of ~170 for each of its two files, the
largest stall a single client saw (bench/README.md, "Databases"). Here a thread
with a connection of its own (one per file being written, gone when the file is
idle) checkpoints the file shortly after each commit, passively (it neither waits
for nor blocks a writer), so the fsyncs happen beside the writers instead of
inside them.

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
from contextlib import closing
from pathlib import Path

DELAY_S = 0.2
"""From the first commit after a checkpoint to the next checkpoint: the commits of
that time share its fsyncs."""
IDLE_S = 30.0
"""A thread with nothing to checkpoint for this long ends; the next commit starts one."""
BACKSTOP_PAGES = 4000
"""The writers' own checkpoint: the log's size (pages, 4 KiB each) that makes a commit
checkpoint, SQLite's 1,000 otherwise."""

log = logging.getLogger(__name__)


class WalCheckpointer:
    """Checkpoints one SQLite file ``delay_s`` after a commit, from a thread that runs
    while the file is written: a commit only sets a flag (starting a thread in a commit
    would stall it under a busy GIL), and an idle or forgotten database keeps no thread
    and no connection."""

    def __init__(
        self,
        path: Path,
        delay_s: float = DELAY_S,
        idle_s: float = IDLE_S,
        *,
        busy_timeout_s: float,
    ) -> None:
        self.path = path
        self.delay_s = delay_s
        self.idle_s = idle_s
        self.busy_timeout_s = busy_timeout_s  # how long a locked file is waited for
        self.checkpoints = 0  # passive checkpoints run, for tests and diagnostics
        self._wanted = threading.Event()  # a commit since the last checkpoint began
        self._closing = threading.Event()
        self._lock = threading.Lock()  # guards _thread
        self._thread: threading.Thread | None = None

    def written(self) -> None:
        """A commit appended to the log: checkpoint it soon."""
        if not self._wanted.is_set():
            self._wanted.set()
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._closing.is_set():
                    self._thread = threading.Thread(
                        target=self._run, name=f"wal-checkpoint {self.path.name}", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        try:
            connection = sqlite3.connect(
                self.path, timeout=self.busy_timeout_s, isolation_level=None
            )
            with closing(connection) as db:
                db.execute("PRAGMA synchronous=NORMAL")
                while self._due():
                    self._wanted.clear()
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
        except sqlite3.Error as exc:  # the writers' own checkpoint still ends the log
            log.warning("checkpoints of %s stopped: %s", self.path, exc)
            with self._lock:
                self._thread = None  # the next commit tries again

    def _due(self) -> bool:
        """Wait for a commit, then ``delay_s`` for those that follow it; False when
        closing or idle for ``idle_s`` (the thread then ends)."""
        while not self._wanted.wait(self.idle_s):
            with self._lock:
                if not self._wanted.is_set():
                    self._thread = None
                    return False
        return not self._closing.wait(self.delay_s)

    def close(self) -> None:
        """Stop checkpointing; wait for a checkpoint that is running."""
        with self._lock:
            self._closing.set()
            thread = self._thread
        self._wanted.set()  # wakes an idle thread, which then sees the closing flag
        if thread is not None:
            thread.join()
