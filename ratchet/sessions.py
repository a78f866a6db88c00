"""Conversations, their turns and the feedback on them: a SQLite file per home, or
the shared Postgres database (``RATCHET_DATABASE_URL``).

The contract between the Runner (which records turns) and the Tuner (which
joins feedback to them), hence in the static core. Shared by every process that
opens it: a turn's number comes from one upsert on its conversation's row, so two
processes (or two Runner replicas) never hand out the same turn. In-process, one asyncio lock per
conversation keeps a conversation's turns in order; locks of idle
conversations are dropped (weak references), so memory does not grow with the
number of conversations ever seen.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ratchet.db import Database, Schema, Tx
from ratchet.db.store import Store

SESSIONS_FILE = "sessions.sqlite3"
"""The sessions' SQLite file under the home's data folder (``RATCHET_DATABASE_URL`` unset)."""
CONVERSATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")

_TABLES = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    arm TEXT NOT NULL,
    created_at {real} NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    turn INTEGER NOT NULL,
    text TEXT NOT NULL,
    intent TEXT NOT NULL,
    confidence {real} NOT NULL,
    alternatives TEXT NOT NULL,
    arm TEXT NOT NULL,
    rule TEXT,
    reply_id TEXT,
    version TEXT NOT NULL,
    state_revision INTEGER NOT NULL,
    created_at {real} NOT NULL,
    PRIMARY KEY (conversation_id, turn)
);
CREATE TABLE IF NOT EXISTS feedback (
    id {id},
    conversation_id TEXT NOT NULL,
    turn INTEGER NOT NULL,
    correct_intent TEXT,
    reward {real},
    idempotency_key TEXT UNIQUE,
    source TEXT NOT NULL,
    created_at {real} NOT NULL,
    FOREIGN KEY (conversation_id, turn) REFERENCES turns(conversation_id, turn)
);
CREATE INDEX IF NOT EXISTS feedback_turn ON feedback(conversation_id, turn);
CREATE TABLE IF NOT EXISTS preferences (
    id {id},
    intent TEXT NOT NULL,
    winner TEXT NOT NULL,
    loser TEXT NOT NULL,
    idempotency_key TEXT UNIQUE,
    created_at {real} NOT NULL
);
CREATE INDEX IF NOT EXISTS preferences_intent ON preferences(intent);
"""
# 2: a conversation counts its turns, so the next number is one atomic upsert on
# every engine (Postgres has no file lock to serialise ``MAX(turn) + 1``).
_LAST_TURN = """
ALTER TABLE conversations ADD COLUMN last_turn INTEGER NOT NULL DEFAULT 0;
UPDATE conversations SET last_turn =
    (SELECT COALESCE(MAX(t.turn), 0) FROM turns t WHERE t.conversation_id = conversations.id);
CREATE INDEX IF NOT EXISTS turns_version ON turns(version, created_at)
"""


def _adopt(tx: Tx) -> int:
    """A sessions file from before versioned schemas holds version 1's tables."""
    found = tx.scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'turns'")
    return 1 if found else 0


SESSIONS_SCHEMA = Schema("sessions", (_TABLES, _LAST_TURN), adopt=_adopt)


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


class SessionStore(Store):
    schema = SESSIONS_SCHEMA
    file = SESSIONS_FILE

    def __init__(self, where: Database | Path) -> None:
        super().__init__(where)
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def lock(self, conversation_id: str) -> asyncio.Lock:
        """The conversation's lock; callers hold a reference while they use it."""
        lock = self._locks.get(conversation_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[conversation_id] = lock
        return lock

    def arm_of(self, conversation_id: str) -> str | None:
        with self.db.read() as tx:
            arm = tx.scalar("SELECT arm FROM conversations WHERE id = ?", (conversation_id,))
        return None if arm is None else str(arm)

    def assignment_of(self, conversation_id: str) -> tuple[str, str | None] | None:
        """The conversation's arm and the version that answered its latest turn (None:
        an unknown conversation). One query: the Runner asks it on every call."""
        with self.db.read() as tx:
            row = tx.one(
                "SELECT c.arm, (SELECT t.version FROM turns t WHERE t.conversation_id = c.id "
                "ORDER BY t.turn DESC LIMIT 1) FROM conversations c WHERE c.id = ?",
                (conversation_id,),
            )
        if row is None:
            return None
        return str(row[0]), None if row[1] is None else str(row[1])

    def record_turn(
        self, conversation_id: str, text: str, answer: dict[str, Any], *, new: bool = False
    ) -> int:
        """Store one answered turn (creating the conversation); return its number.

        ``new``: the caller made the conversation's id (random, unguessable) for this
        turn, so it is turn 1 and a plain insert creates the conversation, cheaper than
        the upsert on every first turn; a clash would be an error, never a merge."""
        now = time.time()
        with self.db.write() as tx:
            if new:
                turn = 1
                tx.execute(
                    "INSERT INTO conversations (id, arm, created_at, last_turn) "
                    "VALUES (?, ?, ?, 1)",
                    (conversation_id, answer["arm"], now),
                )
            else:
                # One upsert numbers the turn: the conversation's row is locked until
                # commit, so two processes never hand out the same number.
                turn = tx.scalar(
                    "INSERT INTO conversations (id, arm, created_at, last_turn) "
                    "VALUES (?, ?, ?, 1) ON CONFLICT (id) DO UPDATE "
                    "SET last_turn = conversations.last_turn + 1 RETURNING last_turn",
                    (conversation_id, answer["arm"], now),
                )
            tx.execute(
                "INSERT INTO turns (conversation_id, turn, text, intent, confidence, "
                "alternatives, arm, rule, reply_id, version, state_revision, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        with self.db.read() as tx:
            head = tx.one(
                "SELECT arm, created_at FROM conversations WHERE id = ?", (conversation_id,)
            )
            if head is None:
                return None
            turns = tx.all(
                "SELECT * FROM turns WHERE conversation_id = ? ORDER BY turn", (conversation_id,)
            )
            feedback = tx.all(
                "SELECT turn, correct_intent, reward, source, created_at FROM feedback "
                "WHERE conversation_id = ? ORDER BY id",
                (conversation_id,),
            )
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
        with self.db.read() as tx:
            row = tx.one(query, args)
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
        with self.db.write() as tx:
            row = tx.one(
                "INSERT INTO feedback (conversation_id, turn, correct_intent, reward, "
                "idempotency_key, source, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
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
        return None if row is None else int(row[0])

    def feedback_after(self, watermark: int, limit: int = 50_000) -> list[dict[str, Any]]:
        """Feedback with id > ``watermark`` in id order, joined to the answered turn."""
        with self.db.read() as tx:
            rows = tx.all(
                "SELECT f.id, f.conversation_id, f.turn, f.correct_intent, f.reward, "
                "t.intent, t.arm, t.version, t.state_revision FROM feedback f "
                "JOIN turns t ON t.conversation_id = f.conversation_id AND t.turn = f.turn "
                "WHERE f.id > ? ORDER BY f.id LIMIT ?",
                (watermark, limit),
            )
        return [dict(row) for row in rows]

    def corrected_mistakes(self, limit: int = 50_000) -> list[tuple[str, str, str]]:
        """(text, answered intent, correct intent) of every turn corrected to another intent."""
        with self.db.read() as tx:
            rows = tx.all(
                "SELECT t.text, t.intent, f.correct_intent FROM feedback f "
                "JOIN turns t ON t.conversation_id = f.conversation_id AND t.turn = f.turn "
                "WHERE f.correct_intent IS NOT NULL AND f.correct_intent != t.intent "
                "ORDER BY f.id DESC LIMIT ?",
                (limit,),
            )
        return [(row[0], row[1], row[2]) for row in rows]

    def record_preference(
        self, intent: str, winner: str, loser: str, idempotency_key: str | None
    ) -> int | None:
        """Store one pairwise comparison; None when the idempotency key was seen."""
        with self.db.write() as tx:
            row = tx.one(
                "INSERT INTO preferences (intent, winner, loser, idempotency_key, created_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
                (intent, winner, loser, idempotency_key, time.time()),
            )
        return None if row is None else int(row[0])

    def preferences(self, intent: str) -> list[tuple[str, str]]:
        """Every (winner, loser) comparison recorded for ``intent``."""
        with self.db.read() as tx:
            rows = tx.all(
                "SELECT winner, loser FROM preferences WHERE intent = ? ORDER BY id", (intent,)
            )
        return [(row[0], row[1]) for row in rows]

    def feedback_count_after(self, watermark: int) -> int:
        """How many feedback records have an id past ``watermark`` (not yet applied)."""
        with self.db.read() as tx:
            count = tx.scalar("SELECT COUNT(*) FROM feedback WHERE id > ?", (watermark,))
        return int(count)

    def feedback_total(self) -> tuple[int, int]:
        """How many feedback records exist, and the highest id."""
        with self.db.read() as tx:
            row = tx.one("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM feedback")
        assert row is not None
        return int(row[0]), int(row[1])

    def feedback_signals(self, version: str, since: float) -> FeedbackSignals:
        """What feedback says of the turns ``version`` answered from ``since`` (epoch
        seconds) on: a rollout's side, judged on the turns of the rollout only."""
        with self.db.read() as tx:
            row = tx.one(
                "SELECT COUNT(f.correct_intent), COALESCE(SUM(CASE WHEN f.correct_intent "
                "IS NOT NULL AND f.correct_intent != t.intent THEN 1 ELSE 0 END), 0), "
                "COUNT(f.reward), COALESCE(SUM(f.reward), 0), "
                "COALESCE(SUM(f.reward * f.reward), 0) FROM feedback f "
                "JOIN turns t ON t.conversation_id = f.conversation_id AND t.turn = f.turn "
                "WHERE t.version = ? AND t.created_at >= ?",
                (version, since),
            )
        assert row is not None
        return FeedbackSignals(int(row[0]), int(row[1]), int(row[2]), float(row[3]), float(row[4]))
