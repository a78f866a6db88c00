"""The Tuner's shared context for calling tool logic directly, without a server."""

from __future__ import annotations

import pytest

from ratchet.sessions import SessionStore
from ratchet.state import open_state_manager
from services.tuner.app import build_context
from services.tuner.context import TunerContext
from services.tuner.settings import TunerSettings


@pytest.fixture
def context(tuner_settings: TunerSettings, sessions: SessionStore) -> TunerContext:
    return build_context(tuner_settings, open_state_manager(tuner_settings), sessions)
