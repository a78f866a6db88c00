"""The sessions store shared by the Runner and the Tuner."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from ratchet.sessions import SessionStore
from tests.helpers.turns import answered


def test_close_waits_for_a_running_query(tmp_path: Path) -> None:
    """Closing under a running statement crashes sqlite3 (a background applier may
    still be querying): close waits, and a later call is an error, not a crash."""
    store = SessionStore(tmp_path / "sessions.sqlite3")
    answered(store, "c1")
    closed = threading.Event()

    def close() -> None:
        store.close()
        closed.set()

    with store.db.read():  # another thread is in the middle of a statement
        closer = threading.Thread(target=close)
        closer.start()
        assert not closed.wait(0.2), "close must wait for the statement in flight"
    closer.join(5)
    assert closed.is_set()
    with pytest.raises(sqlite3.ProgrammingError):  # a late caller: an error, not a crash
        store.feedback_after(0)


def test_assignment_of_is_the_arm_and_the_version_of_the_latest_turn(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "sessions.sqlite3")
    assert store.assignment_of("c1") is None
    answered(store, "c1", arm="knn")
    assert store.assignment_of("c1") == ("knn", "v0.1.0")
    answer = {"intent": "x", "confidence": 0.5, "alternatives": [], "arm": "knn"}
    store.record_turn("c1", "again", {**answer, "version": "v0.2.0", "state_revision": 3})
    assert store.assignment_of("c1") == ("knn", "v0.2.0")
    store.close()
