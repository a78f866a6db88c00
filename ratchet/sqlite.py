"""SQLite connections tuned for many small writes from several processes."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


def connect(path: Path) -> sqlite3.Connection:
    """Autocommit connection in WAL mode, usable from any thread (callers lock)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode: a power cut may lose the last commits, never corrupt the file.
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA foreign_keys=ON")
    return connection


class SqliteStore:
    """A store on one connection shared by the process's threads.

    Every statement runs under ``_db_lock`` (re-entrant, so a locked method may
    call another): a statement from one thread must never land inside another
    thread's open transaction, and closing while a statement runs crashes
    sqlite3 (a segfault: e.g. a background applier still querying a closed store).
    After :meth:`close`, a late caller gets ``sqlite3.ProgrammingError``.
    """

    def __init__(self, path: Path, schema: str) -> None:
        self._db = connect(path)
        self._db.executescript(schema)
        self._db_lock = threading.RLock()

    def close(self) -> None:
        with self._db_lock:
            self._db.close()
