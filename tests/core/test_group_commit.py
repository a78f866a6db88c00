"""Group commit on the embedded engine: concurrent writers share commits, each one's
failure rolls back only its own part, and a writer returns only once it is committed."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from ratchet.db.sqlite import SqliteDatabase


def committed(path: Path) -> set[int]:
    """What another connection (another process) sees in the file."""
    other = sqlite3.connect(path)
    try:
        return {row[0] for row in other.execute("SELECT k FROM t")}
    finally:
        other.close()


def test_concurrent_writers_share_commits_and_each_is_committed_on_return(
    database: SqliteDatabase, tmp_path: Path
) -> None:
    commits = 0
    seen_uncommitted: list[int] = []
    trace = database._db.set_trace_callback

    def count(statement: str) -> None:
        nonlocal commits
        commits += statement == "COMMIT"

    trace(count)
    barrier = threading.Barrier(8)

    def writer(index: int) -> None:
        barrier.wait()
        for n in range(50):
            key = index * 1000 + n
            with database.write() as tx:
                tx.execute("INSERT INTO t (k, v) VALUES (?, ?)", (key, "x"))
            if key not in committed(tmp_path / "t.sqlite3"):
                seen_uncommitted.append(key)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    trace(None)
    assert seen_uncommitted == []  # every write was in the file when its writer returned
    assert len(committed(tmp_path / "t.sqlite3")) == 400
    assert 0 < commits <= 400


def test_writers_queued_behind_one_share_its_commit(database: SqliteDatabase) -> None:
    """Seven writers queue while the first holds the connection: all eight commit once."""
    statements: list[str] = []
    database._db.set_trace_callback(statements.append)
    holding, release = threading.Event(), threading.Event()

    def first() -> None:
        with database.write() as tx:
            tx.execute("INSERT INTO t (k, v) VALUES (0, 'first')")
            holding.set()
            release.wait(10)

    def later(key: int) -> None:
        with database.write() as tx:
            tx.execute("INSERT INTO t (k, v) VALUES (?, 'later')", (key,))

    threads = [threading.Thread(target=first)]
    threads[0].start()
    holding.wait(10)
    threads += [threading.Thread(target=later, args=(key,)) for key in range(1, 8)]
    for thread in threads[1:]:
        thread.start()
    deadline = time.monotonic() + 10
    while database._queued < 7 and time.monotonic() < deadline:  # all seven are queued
        time.sleep(0.001)
    release.set()
    for thread in threads:
        thread.join()
    database._db.set_trace_callback(None)
    assert statements.count("COMMIT") == 1
    assert statements.count("BEGIN IMMEDIATE") == 1
    with database.read() as tx:
        assert tx.scalar("SELECT COUNT(*) FROM t") == 8


def test_a_failing_writer_rolls_back_only_its_part(
    database: SqliteDatabase, tmp_path: Path
) -> None:
    entered, release = threading.Event(), threading.Event()
    outcome: list[str] = []

    def slow_good() -> None:
        with database.write() as tx:
            tx.execute("INSERT INTO t (k, v) VALUES (1, 'good')")
            entered.set()
            release.wait(5)  # the lock is held: the bad writer queues and joins this batch
        outcome.append("good committed")

    def bad() -> None:
        entered.wait(5)
        try:
            with database.write() as tx:
                tx.execute("INSERT INTO t (k, v) VALUES (2, 'bad')")
                tx.execute("INSERT INTO t (k, v) VALUES (1, 'duplicate')")
        except sqlite3.IntegrityError:
            outcome.append("bad rolled back")

    threads = [threading.Thread(target=slow_good), threading.Thread(target=bad)]
    for thread in threads:
        thread.start()
    entered.wait(5)
    release.set()
    for thread in threads:
        thread.join()
    assert sorted(outcome) == ["bad rolled back", "good committed"]
    assert committed(tmp_path / "t.sqlite3") == {1}


def test_nested_write_is_a_savepoint_and_reads_see_committed_rows(
    database: SqliteDatabase, tmp_path: Path
) -> None:
    with database.write() as tx:
        tx.execute("INSERT INTO t (k, v) VALUES (1, 'a')")
        with pytest.raises(sqlite3.IntegrityError), database.write() as inner:
            inner.execute("INSERT INTO t (k, v) VALUES (2, 'b')")
            inner.execute("INSERT INTO t (k, v) VALUES (1, 'again')")
        with database.read() as reader:  # inside our own write: sees our rows
            assert reader.scalar("SELECT COUNT(*) FROM t") == 1
    assert committed(tmp_path / "t.sqlite3") == {1}
    database.close()
