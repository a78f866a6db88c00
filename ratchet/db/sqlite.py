"""The embedded engine: one SQLite file per store under the home's data folder.

Group commit: concurrent writers of a process share one transaction and one
``COMMIT``, as a database server's writers share one log flush. A writer takes
the connection lock and joins the open transaction (``BEGIN IMMEDIATE`` if none
is open: it is then the batch's first writer, alone in it while it holds the
lock, so its block needs no savepoint; a later writer runs its block in a
savepoint, so its failure rolls back only its own part). Then it waits for the
commit of its batch: the writer that finds no other writer queued for the lock
commits for all (the leader); the others wait on a condition that releases the
lock, so the queued writers join meanwhile. A writer returns only after its
batch committed, or raises if that commit failed: an answered write is as
durable as with one commit per write. A read first commits an open batch, so it
sees committed rows only. A batch commits after :data:`MAX_BATCH` writers even if
more are queued, so no writer waits for ever and the file's write lock, which
other processes queue on, is held briefly.

A lone writer runs exactly ``BEGIN IMMEDIATE``, its block, ``COMMIT``, as
before. The batching comes from writers that overlap, i.e. from worker threads
(a Tuner's applier beside its intake, a store used from ``anyio.to_thread``);
writes made one after the other on an event loop never overlap. The log's
checkpoints run beside the writers (:mod:`.checkpoint`).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .checkpoint import BACKSTOP_PAGES, WalCheckpointer
from .dialect import Dialect
from .engine import Database, Tx
from .rows import sqlite_row

MAX_BATCH = 32
"""Writers one shared commit takes at most before it commits regardless."""
TIMEOUT_S = 30.0
"""How long a statement waits for a lock another connection holds."""


def connect(path: Path) -> sqlite3.Connection:
    """Autocommit connection in WAL mode, usable from any thread (callers lock)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(
        path, timeout=TIMEOUT_S, isolation_level=None, check_same_thread=False
    )
    _into_wal(connection)
    # NORMAL in WAL mode: a power cut may lose the last commits, never corrupt the file;
    # a killed process loses nothing it committed (the WAL is in the OS's page cache).
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA foreign_keys=ON")
    # A thread checkpoints beside the writers (.checkpoint); theirs only ends each log.
    connection.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
    return connection


def _into_wal(connection: sqlite3.Connection) -> None:
    """WAL mode. Turning a new file to WAL takes its exclusive lock, and SQLite answers
    "database is locked" at once, without waiting, while another connection opens the
    same new file (processes starting together on a fresh home): retried until the
    connection's timeout."""
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


class _Batch:
    """One shared transaction: how many writers joined it and how its commit ended."""

    __slots__ = ("done", "error", "writers")

    def __init__(self) -> None:
        self.writers = 0
        self.done = False
        self.error: BaseException | None = None


class SqliteDatabase(Database):
    """A file shared by the process's threads on one connection.

    Every statement runs under one re-entrant lock: a statement from one thread
    must never land inside another thread's savepoint, and closing while a
    statement runs crashes sqlite3 (a segfault: e.g. a background applier still
    querying a closed store). After :meth:`close`, a late caller gets
    ``sqlite3.ProgrammingError``. Writes are group-committed (module docstring).
    """

    dialect = Dialect.SQLITE

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.where = str(path)
        self._db = connect(path)
        self._db.row_factory = sqlite_row
        self._lock = threading.RLock()
        self._committed = threading.Condition(self._lock)
        self._queue_lock = threading.Lock()  # guards _queued, taken without the big lock
        self._queued = 0  # writers waiting for the connection lock: they will join
        self._batch: _Batch | None = None  # the open shared transaction
        self._checkpointer = WalCheckpointer(path, busy_timeout_s=TIMEOUT_S)

    @contextmanager
    def read(self) -> Iterator[Tx]:
        with self._lock:
            if not self._depth:  # outside this thread's own write: see committed rows only
                self._flush()
            yield Tx(self._db, self.dialect, self._db.executemany)

    @contextmanager
    def write(self) -> Iterator[Tx]:
        if self._depth:  # inside this thread's own write (the lock is ours): a savepoint
            with self._lock:
                yield from self._savepoint()
            return
        with self._queue_lock:
            self._queued += 1
        with self._lock:
            with self._queue_lock:
                self._queued -= 1
            batch = self._join()
            try:
                yield from self._first(batch) if batch.writers == 1 else self._savepoint()
            except BaseException:
                self._settle(batch, wait=False)  # nothing of ours to wait for
                raise
            self._settle(batch, wait=True)

    def _join(self) -> _Batch:
        """The open shared transaction, begun if none is (lock held)."""
        if self._batch is None:
            self._db.execute("BEGIN IMMEDIATE")
            self._batch = _Batch()
        self._batch.writers += 1
        return self._batch

    def _first(self, batch: _Batch) -> Iterator[Tx]:
        """The block of a batch's first writer: nobody else's work is in the transaction
        yet (the lock is held until the block ends), so a failure rolls it all back and
        no savepoint is needed; a lone writer runs exactly BEGIN, its block, COMMIT."""
        self._depth += 1
        try:
            yield Tx(self._db, self.dialect, self._db.executemany)
        except BaseException:
            self._batch, batch.done = None, True
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        finally:
            self._depth -= 1

    def _settle(self, batch: _Batch, *, wait: bool) -> None:
        """Commit ``batch`` if nobody queued will join it (or it is full), else leave
        the commit to them; with ``wait``, return once it committed (lock held)."""
        while not batch.done:
            if self._queued == 0 or batch.writers >= MAX_BATCH:
                self._commit()
            elif not wait:
                return
            else:
                self._committed.wait()  # releases the lock: the queued writers join
        if wait and batch.error is not None:
            raise sqlite3.OperationalError(
                f"the shared commit failed: {batch.error}"
            ) from batch.error

    def _commit(self) -> None:
        """Commit the open batch for all its writers and wake them (lock held)."""
        batch, self._batch = self._batch, None
        if batch is None:
            return
        try:
            self._db.execute("COMMIT")
            self._checkpointer.written()
        except BaseException as exc:
            batch.error = exc
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        finally:
            batch.done = True
            self._committed.notify_all()

    def _flush(self) -> None:
        """Commit an open batch now (its writers are waiting for it; lock held)."""
        if self._batch is not None:
            self._commit()

    def _savepoint(self) -> Iterator[Tx]:
        self._depth += 1
        name = f"nested_{self._depth}"
        self._db.execute(f"SAVEPOINT {name}")
        try:
            yield Tx(self._db, self.dialect, self._db.executemany)
        except BaseException:
            # Some errors (a full disk) end the whole transaction: then the batch's
            # commit fails and every writer in it is told.
            if self._db.in_transaction:
                self._db.execute(f"ROLLBACK TO {name}")
                self._db.execute(f"RELEASE {name}")
            raise
        finally:
            self._depth -= 1
        self._db.execute(f"RELEASE {name}")

    def close(self) -> None:
        self._checkpointer.close()
        with self._lock:
            self._flush()
            self._db.close()
