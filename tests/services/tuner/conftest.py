"""Fixtures for the Tuner's tests: an initialised home with turns the Runner answered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ratchet.bootstrap import initialize
from ratchet.config import TunerSettings
from ratchet.sessions import SessionStore


@pytest.fixture
def tuner_settings(tmp_path: Path, source_repo: Path) -> TunerSettings:
    settings = TunerSettings(home=tmp_path / "home", project_root=source_repo, port=0)
    initialize(settings)
    return settings


@pytest.fixture
def sessions(tuner_settings: TunerSettings) -> Iterator[SessionStore]:
    store = SessionStore(tuner_settings.data_path / "sessions.sqlite3")
    yield store
    store.close()


def answered(
    sessions: SessionStore,
    conversation_id: str,
    *,
    intent: str = "card_arrival",
    arm: str = "centroid",
) -> int:
    """Record a turn as the Runner does; return its number."""
    return sessions.record_turn(
        conversation_id,
        "where is my card?",
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
