"""The sessions store shared by the Runner and the Tuner."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from ratchet.db import open_database
from ratchet.sessions import SESSIONS_FILE, SESSIONS_SCHEMA, SessionStore
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


def sessions_on(tmp_path: Path, url: str | None) -> SessionStore:
    return SessionStore(open_database(SESSIONS_SCHEMA, tmp_path / SESSIONS_FILE, url))


def test_threads_answering_one_conversation_get_distinct_turns(
    tmp_path: Path, database_url: str | None
) -> None:
    """Turn numbers come from one upsert on the conversation's row: concurrent writers
    (threads here; Runner replicas on one Postgres alike) never share a number."""
    store = sessions_on(tmp_path, database_url)
    numbers: list[int] = []

    def answer_five() -> None:
        numbers.extend(answered(store, "shared") for _ in range(5))

    threads = [threading.Thread(target=answer_five) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(numbers) == list(range(1, 21))
    conversation = store.conversation("shared")
    assert conversation is not None and len(conversation["turns"]) == 20
    store.close()


def test_a_new_conversation_starts_at_turn_one_and_never_merges_into_another(
    tmp_path: Path, database_url: str | None
) -> None:
    """``new`` (an id the Runner just made) skips the numbering upsert: the turn is 1,
    later turns number on from it, and an id that exists after all is an error that
    records nothing, not a second turn 1."""
    store = sessions_on(tmp_path, database_url)
    answer = {"intent": "x", "confidence": 0.5, "alternatives": [], "arm": "knn"}
    answer |= {"version": "v0.1.0", "state_revision": 0}
    assert store.record_turn("fresh", "hello", answer, new=True) == 1
    assert store.record_turn("fresh", "again", answer) == 2
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        store.record_turn("fresh", "clash", answer, new=True)
    conversation = store.conversation("fresh")
    assert conversation is not None
    assert [t["text"] for t in conversation["turns"]] == ["hello", "again"]
    assert store.record_turn("fresh", "third", answer) == 3
    store.close()


def test_feedback_is_joined_to_its_turn_once_per_key(
    tmp_path: Path, database_url: str | None
) -> None:
    store = sessions_on(tmp_path, database_url)
    turn = answered(store, "c1", intent="card_arrival")
    first = store.record_feedback(
        "c1", turn, correct_intent="lost_card", reward=None, idempotency_key="k1", source="t"
    )
    again = store.record_feedback(
        "c1", turn, correct_intent="lost_card", reward=None, idempotency_key="k1", source="t"
    )
    rewarded = store.record_feedback(
        "c1", turn, correct_intent=None, reward=0.5, idempotency_key=None, source="t"
    )
    assert first is not None and again is None and rewarded is not None and rewarded > first
    assert [r["correct_intent"] for r in store.feedback_after(0)] == ["lost_card", None]
    assert store.corrected_mistakes() == [("where is my card?", "card_arrival", "lost_card")]
    signals = store.feedback_signals("v0.1.0", since=0)
    assert (signals.verdicts, signals.corrections, signals.rewards) == (1, 1, 1)
    assert (signals.reward_sum, signals.reward_sq_sum) == (0.5, 0.25)
    assert store.feedback_total() == (2, rewarded)
    assert store.record_preference("lost_card", "a", "b", "p1") is not None
    assert store.record_preference("lost_card", "a", "b", "p1") is None
    assert store.preferences("lost_card") == [("a", "b")]
    store.close()


def test_a_sessions_file_from_before_versioned_schemas_goes_on_numbering(tmp_path: Path) -> None:
    """A home made by an earlier release: its turns stay, the next turn follows them."""
    path = tmp_path / SESSIONS_FILE
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE conversations (id TEXT PRIMARY KEY, arm TEXT NOT NULL, "
            "created_at REAL NOT NULL);"
            "CREATE TABLE turns (conversation_id TEXT NOT NULL, turn INTEGER NOT NULL, "
            "text TEXT NOT NULL, intent TEXT NOT NULL, confidence REAL NOT NULL, "
            "alternatives TEXT NOT NULL, arm TEXT NOT NULL, rule TEXT, reply_id TEXT, "
            "version TEXT NOT NULL, state_revision INTEGER NOT NULL, created_at REAL NOT NULL, "
            "PRIMARY KEY (conversation_id, turn));"
            "CREATE TABLE feedback (id INTEGER PRIMARY KEY AUTOINCREMENT, conversation_id TEXT, "
            "turn INTEGER, correct_intent TEXT, reward REAL, idempotency_key TEXT UNIQUE, "
            "source TEXT NOT NULL, created_at REAL NOT NULL);"
            "CREATE TABLE preferences (id INTEGER PRIMARY KEY AUTOINCREMENT, intent TEXT, "
            "winner TEXT, loser TEXT, idempotency_key TEXT UNIQUE, created_at REAL);"
            "INSERT INTO conversations VALUES ('old', 'centroid', 1.0);"
            "INSERT INTO turns VALUES ('old', 1, 'hi', 'x', 0.5, '[]', 'centroid', NULL, NULL, "
            "'v0.1.0', 0, 1.0), ('old', 2, 'hi', 'x', 0.5, '[]', 'centroid', NULL, NULL, "
            "'v0.1.0', 0, 2.0);"
        )
    store = SessionStore(path)
    assert answered(store, "old") == 3
    assert answered(store, "new") == 1
    store.close()
