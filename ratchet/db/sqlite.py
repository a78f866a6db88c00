"""The embedded engine: one SQLite file per store under the home's data folder."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .dialect import Dialect
from .engine import Database, Tx
from .rows import sqlite_row


def connect(path: Path) -> sqlite3.Connection:
    """Autocommit connection in WAL mode, usable from any thread (callers lock)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode: a power cut may lose the last commits, never corrupt the file.
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA foreign_keys=ON")
    return connection


class SqliteDatabase(Database):
    """A file shared by the process's threads on one connection.

    Every statement runs under one re-entrant lock: a statement from one thread
    must never land inside another thread's open transaction, and closing while a
    statement runs crashes sqlite3 (a segfault: e.g. a background applier still
    querying a closed store). After :meth:`close`, a late caller gets
    ``sqlite3.ProgrammingError``.
    """

    dialect = Dialect.SQLITE

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.where = str(path)
        self._db = connect(path)
        self._db.row_factory = sqlite_row
        self._lock = threading.RLock()

    @contextmanager
    def read(self) -> Iterator[Tx]:
        with self._lock:
            yield Tx(self._db, self.dialect, self._db.executemany)

    @contextmanager
    def write(self) -> Iterator[Tx]:
        with self._lock:
            if self._db.in_transaction:  # this thread's own outer write: the lock is ours
                yield from self._savepoint()
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(self._db, self.dialect, self._db.executemany)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _savepoint(self) -> Iterator[Tx]:
        self._depth += 1
        name = f"nested_{self._depth}"
        self._db.execute(f"SAVEPOINT {name}")
        try:
            yield Tx(self._db, self.dialect, self._db.executemany)
        except BaseException:
            self._db.execute(f"ROLLBACK TO {name}")
            self._db.execute(f"RELEASE {name}")
            raise
        finally:
            self._depth -= 1
        self._db.execute(f"RELEASE {name}")

    def close(self) -> None:
        with self._lock:
            self._db.close()
