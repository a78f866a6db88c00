"""Recording a turn as the Runner does, for tests and benches that give feedback on it."""

from __future__ import annotations

from ratchet.sessions import SessionStore


def answered(
    sessions: SessionStore,
    conversation_id: str,
    *,
    text: str = "where is my card?",
    intent: str = "card_arrival",
    arm: str = "centroid",
) -> int:
    """Record a turn answered with ``intent`` by ``arm`` of v0.1.0; return its number."""
    return sessions.record_turn(
        conversation_id,
        text,
        {
            "intent": intent,
            "confidence": 0.6,
            "alternatives": [{"intent": intent, "score": 0.6}],
            "arm": arm,
            "rule": None,
            "reply_id": None,
            "version": "v0.1.0",
            "state_revision": 0,
        },
    )
