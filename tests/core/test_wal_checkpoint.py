"""The write-ahead log is checkpointed beside the writers, and still ends."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ratchet.db.checkpoint import BACKSTOP_PAGES, WalCheckpointer
from ratchet.db.sqlite import SqliteDatabase

DEADLINE_S = 10.0


def eventually(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` until it holds (the checkpoint thread runs on its own time)."""
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.01)


def rows_in_the_file_alone(path: Path, tmp_path: Path) -> int:
    """Rows a copy of the database file holds without its log: what checkpoints copied
    (-1 for a copy taken while a checkpoint wrote it)."""
    copy = tmp_path / "copy.sqlite3"
    shutil.copyfile(path, copy)
    other = sqlite3.connect(copy)
    try:
        return int(other.execute("SELECT COUNT(*) FROM t").fetchone()[0])
    except sqlite3.DatabaseError:
        return -1
    finally:
        other.close()


def checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("wal-checkpoint")]


def test_commits_reach_the_database_file_without_a_writer_checkpointing(
    database: SqliteDatabase, tmp_path: Path
) -> None:
    """200 commits stay far under the writers' own checkpoint size: only the thread can
    have copied them into the file."""
    for k in range(200):
        with database.write() as tx:
            tx.execute("INSERT INTO t VALUES (?, ?)", (k, "x" * 100))
    eventually(lambda: database._checkpointer.checkpoints >= 1)
    eventually(lambda: rows_in_the_file_alone(database.path, tmp_path) == 200)
    database.close()


def test_the_log_ends_under_writes_that_never_pause(database: SqliteDatabase) -> None:
    """A checkpoint beside writers that never pause cannot reach the log's end; the
    writers' own checkpoint ends it, so the log file stays about its size."""
    wal = database.path.with_name(database.path.name + "-wal")
    page = 4096
    for k in range(3 * BACKSTOP_PAGES):  # a page or more each: three logs' worth
        with database.write() as tx:
            tx.execute("INSERT INTO t VALUES (?, ?)", (k, "y" * 2000))
    assert wal.stat().st_size < 2 * BACKSTOP_PAGES * (page + 24)
    with database.read() as tx:
        assert tx.scalar("SELECT COUNT(*) FROM t") == 3 * BACKSTOP_PAGES
    database.close()


def test_closing_stops_the_thread_and_keeps_every_row(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    database = SqliteDatabase(path)
    with database.write() as tx:
        tx.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    assert any(t.name == "wal-checkpoint c.sqlite3" for t in checkpoint_threads())
    database.close()
    assert not any(t.name == "wal-checkpoint c.sqlite3" for t in checkpoint_threads())
    with pytest.raises(sqlite3.ProgrammingError), database.write() as tx:
        tx.execute("INSERT INTO t VALUES (1, 'late')")
    other = sqlite3.connect(path)
    assert other.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 0
    other.close()


def test_an_idle_file_keeps_no_thread_and_a_commit_starts_one_again(
    database: SqliteDatabase,
) -> None:
    checkpointer = WalCheckpointer(database.path, delay_s=0.01, idle_s=0.05, busy_timeout_s=5)
    with database.write() as tx:
        tx.execute("INSERT INTO t VALUES (1, 'a')")
    checkpointer.written()
    eventually(lambda: checkpointer.checkpoints == 1)
    eventually(lambda: checkpointer._thread is None)  # idle: the thread ended
    with database.write() as tx:
        tx.execute("INSERT INTO t VALUES (2, 'b')")
    checkpointer.written()
    eventually(lambda: checkpointer.checkpoints == 2)
    checkpointer.close()
    database.close()
