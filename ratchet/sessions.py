"""Conversations, their turns and the feedback on them, in SQLite (WAL).

The contract between the Runner (which records turns) and the Tuner (which
joins feedback to them), hence in the static core. Shared by every process on
the machine: turn numbers are allocated inside one ``BEGIN IMMEDIATE``
transaction, so two processes never hand out the same turn. In-process, one asyncio lock per
conversation keeps a conversation's turns in order; locks of idle
conversations are dropped (weak references), so memory does not grow with the
number of conversations ever seen.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ratchet.sqlite import SqliteStore

CONVERSATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    arm TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    turn INTEGER NOT NULL,
    text TEXT NOT NULL,
    intent TEXT NOT NULL,
    confidence REAL NOT NULL,
    alternatives TEXT NOT NULL,
    arm TEXT NOT NULL,
    rule TEXT,
    reply_id TEXT,
    version TEXT NOT NULL,
    state_revision INTEGER NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (conversation_id, turn)
);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL,
    turn INTEGER NOT NULL,
    correct_intent TEXT,
    reward REAL,
    idempotency_key TEXT UNIQUE,
    source TEXT NOT NULL,
    created_at REAL NOT NULL,
    FOREIGN KEY (conversation_id, turn) REFERENCES turns(conversation_id, turn)
);
CREATE INDEX IF NOT EXISTS feedback_turn ON feedback(conversation_id, turn);
CREATE TABLE IF NOT EXISTS preferences (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    intent TEXT NOT NULL,
    winner TEXT NOT NULL,
    loser TEXT NOT NULL,
    idempotency_key TEXT UNIQUE,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS preferences_intent ON preferences(intent);
"""


@dataclass(frozen=True, slots=True)
class FeedbackSignals:
    """Feedback on one version's turns: verdicts (a correct intent given), how many of
    them corrected the answer, and the numeric rewards (count, sum, sum of squares)."""

    verdicts: int
    corrections: int
    rewards: int
    reward_sum: float
    reward_sq_sum: float


def valid_conversation_id(value: str) -> bool:
    return CONVERSATION_ID.match(value) is not None


class SessionStore(SqliteStore):
    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(path, _SCHEMA)
        self._db.row_factory = sqlite3.Row
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def lock(self, conversation_id: str) -> asyncio.Lock:
        """The conversation's lock; callers hold a reference while they use it."""
        lock = self._locks.get(conversation_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[conversation_id] = lock
        return lock

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._db_lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def arm_of(self, conversation_id: str) -> str | None:
        with self._db_lock:
            row = self._db.execute(
                "SELECT arm FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()
        return None if row is None else str(row["arm"])

    def assignment_of(self, conversation_id: str) -> tuple[str, str | None] | None:
        """The conversation's arm and the version that answered its latest turn (None:
        an unknown conversation). One query: the Runner asks it on every call."""
        with self._db_lock:
            row = self._db.execute(
                "SELECT c.arm, (SELECT t.version FROM turns t WHERE t.conversation_id = c.id "
                "ORDER BY t.turn DESC LIMIT 1) FROM conversations c WHERE c.id = ?",
                (conversation_id,),
            ).fetchone()
        if row is None:
            return None
        return str(row[0]), None if row[1] is None else str(row[1])

    def record_turn(self, conversation_id: str, text: str, answer: dict[str, Any]) -> int:
        """Store one answered turn (creating the conversation); return its number."""
        now = time.time()
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO conversations (id, arm, created_at) VALUES (?, ?, ?)",
                (conversation_id, answer["arm"], now),
            )
            (turn,) = db.execute(
                "SELECT COALESCE(MAX(turn), 0) + 1 FROM turns WHERE conversation_id = ?",
                (conversation_id,),
            ).fetchone()
            db.execute(
                "INSERT INTO turns VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    conversation_id,
                    turn,
                    text,
                    answer["intent"],
                    answer["confidence"],
                    json.dumps(answer["alternatives"]),
                    answer["arm"],
                    answer.get("rule"),
                    answer.get("reply_id"),
                    answer["version"],
                    answer["state_revision"],
                    now,
                ),
            )
        return int(turn)

    def conversation(self, conversation_id: str) -> dict[str, Any] | None:
        """Every turn with the feedback recorded on it, or None if unknown."""
        with self._db_lock:
            head = self._db.execute(
                "SELECT arm, created_at FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()
            if head is None:
                return None
            turns = self._db.execute(
                "SELECT * FROM turns WHERE conversation_id = ? ORDER BY turn", (conversation_id,)
            ).fetchall()
            feedback = self._db.execute(
                "SELECT turn, correct_intent, reward, source, created_at FROM feedback "
                "WHERE conversation_id = ? ORDER BY id",
                (conversation_id,),
            ).fetchall()
        by_turn: dict[int, list[dict[str, Any]]] = {}
        for row in feedback:
            by_turn.setdefault(int(row["turn"]), []).append(
                {k: row[k] for k in ("correct_intent", "reward", "source", "created_at")}
            )
        return {
            "conversation_id": conversation_id,
            "arm": head["arm"],
            "created_at": head["created_at"],
            "turns": [
                {
                    "turn": row["turn"],
                    "text": row["text"],
                    "intent": row["intent"],
                    "confidence": row["confidence"],
                    "alternatives": json.loads(row["alternatives"]),
                    "rule": row["rule"],
                    "reply_id": row["reply_id"],
                    "version": row["version"],
                    "state_revision": row["state_revision"],
                    "created_at": row["created_at"],
                    "feedback": by_turn.get(int(row["turn"]), []),
                }
                for row in turns
            ],
        }

    def turn(self, conversation_id: str, turn: int | None = None) -> dict[str, Any] | None:
        """One recorded turn (the latest when ``turn`` is None), or None if unknown."""
        query = (
            "SELECT turn, intent, arm, version, state_revision FROM turns "
            "WHERE conversation_id = ? "
        )
        args: tuple[Any, ...] = (conversation_id,)
        if turn is None:
            query += "ORDER BY turn DESC LIMIT 1"
        else:
            query += "AND turn = ?"
            args += (turn,)
        with self._db_lock:
            row = self._db.execute(query, args).fetchone()
        return None if row is None else dict(row)

    def record_feedback(
        self,
        conversation_id: str,
        turn: int,
        *,
        correct_intent: str | None,
        reward: float | None,
        idempotency_key: str | None,
        source: str,
    ) -> int | None:
        """Attach feedback to a recorded turn; its id, or None if the key was seen."""
        try:
            with self._transaction() as db:
                cursor = db.execute(
                    "INSERT INTO feedback (conversation_id, turn, correct_intent, reward, "
                    "idempotency_key, source, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        conversation_id,
                        turn,
                        correct_intent,
                        reward,
                        idempotency_key,
                        source,
                        time.time(),
                    ),
                )
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" in str(exc):
                return None
            raise
        return int(cursor.lastrowid or 0)

    def feedback_after(self, watermark: int, limit: int = 50_000) -> list[dict[str, Any]]:
        """Feedback with id > ``watermark`` in id order, joined to the answered turn."""
        with self._db_lock:
            rows = self._db.execute(
                "SELECT f.id, f.conversation_id, f.turn, f.correct_intent, f.reward, "
                "t.intent, t.arm, t.version, t.state_revision FROM feedback f "
                "JOIN turns t ON t.conversation_id = f.conversation_id AND t.turn = f.turn "
                "WHERE f.id > ? ORDER BY f.id LIMIT ?",
                (watermark, limit),
            ).fetchall()
        return [dict(row) for row in rows]

    def corrected_mistakes(self, limit: int = 50_000) -> list[tuple[str, str, str]]:
        """(text, answered intent, correct intent) of every turn corrected to another intent."""
        with self._db_lock:
            rows = self._db.execute(
                "SELECT t.text, t.intent, f.correct_intent FROM feedback f "
                "JOIN turns t ON t.conversation_id = f.conversation_id AND t.turn = f.turn "
                "WHERE f.correct_intent IS NOT NULL AND f.correct_intent != t.intent "
                "ORDER BY f.id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [(row[0], row[1], row[2]) for row in rows]

    def record_preference(
        self, intent: str, winner: str, loser: str, idempotency_key: str | None
    ) -> int | None:
        """Store one pairwise comparison; None when the idempotency key was seen."""
        try:
            with self._transaction() as db:
                cursor = db.execute(
                    "INSERT INTO preferences (intent, winner, loser, idempotency_key, created_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (intent, winner, loser, idempotency_key, time.time()),
                )
        except sqlite3.IntegrityError:
            return None
        return int(cursor.lastrowid or 0)

    def preferences(self, intent: str) -> list[tuple[str, str]]:
        """Every (winner, loser) comparison recorded for ``intent``."""
        with self._db_lock:
            rows = self._db.execute(
                "SELECT winner, loser FROM preferences WHERE intent = ? ORDER BY id", (intent,)
            ).fetchall()
        return [(row[0], row[1]) for row in rows]

    def feedback_count_after(self, watermark: int) -> int:
        """How many feedback records have an id past ``watermark`` (not yet applied)."""
        with self._db_lock:
            (count,) = self._db.execute(
                "SELECT COUNT(*) FROM feedback WHERE id > ?", (watermark,)
            ).fetchone()
        return int(count)

    def feedback_total(self) -> tuple[int, int]:
        """How many feedback records exist, and the highest id."""
        with self._db_lock:
            count, top = self._db.execute(
                "SELECT COUNT(*), COALESCE(MAX(id), 0) FROM feedback"
            ).fetchone()
        return int(count), int(top)

    def feedback_signals(self, version: str, since: float) -> FeedbackSignals:
        """What feedback says of the turns ``version`` answered from ``since`` (epoch
        seconds) on: a rollout's side, judged on the turns of the rollout only."""
        with self._db_lock:
            row = self._db.execute(
                "SELECT COUNT(f.correct_intent), "
                "COALESCE(SUM(f.correct_intent IS NOT NULL AND f.correct_intent != t.intent), 0), "
                "COUNT(f.reward), COALESCE(SUM(f.reward), 0), "
                "COALESCE(SUM(f.reward * f.reward), 0) FROM feedback f "
                "JOIN turns t ON t.conversation_id = f.conversation_id AND t.turn = f.turn "
                "WHERE t.version = ? AND t.created_at >= ?",
                (version, since),
            ).fetchone()
        return FeedbackSignals(int(row[0]), int(row[1]), int(row[2]), float(row[3]), float(row[4]))
