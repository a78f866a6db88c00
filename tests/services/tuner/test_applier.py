"""The applier folds stored feedback into staging in paced batches; a waiting caller is not."""

from __future__ import annotations

import time

import pytest

from ratchet.sessions import SessionStore
from ratchet.state import open_state_manager
from services.tuner import applier
from services.tuner.app import build_context
from services.tuner.settings import TunerSettings
from tests.helpers.turns import answered


def test_a_stream_of_feedback_is_applied_in_paced_batches(
    tuner_settings: TunerSettings, sessions: SessionStore
) -> None:
    context = build_context(tuner_settings, open_state_manager(tuner_settings), sessions)
    first = context.manager.read_staging().revision
    started = time.monotonic()
    for index in range(150):  # about 200 calls a second for most of a second
        answered(sessions, f"c{index}")
        context.intake.submit(f"c{index}", None, None, 1.0, None)
        context.applier.kick()
        time.sleep(0.005)
    last = sessions.feedback_after(0)[-1]["id"]
    document = context.applier.wait_for(last)
    elapsed = time.monotonic() - started
    writes = document.revision - first
    assert context.intake.pending(document) == 0
    # Unpaced, each kick that found rows pending wrote staging again (up to one write a call).
    assert 1 <= writes <= elapsed / applier.APPLY_INTERVAL_S + 2, (writes, elapsed)


def test_a_caller_waiting_for_its_feedback_is_not_held_by_the_pacing(
    tuner_settings: TunerSettings, sessions: SessionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(applier, "APPLY_INTERVAL_S", 600.0)
    context = build_context(tuner_settings, open_state_manager(tuner_settings), sessions)
    answered(sessions, "c1")
    answered(sessions, "c2")
    one = context.intake.submit("c1", None, None, 1.0, None).feedback_id
    assert one is not None
    assert context.applier.wait_for(one).revision > 0  # the pace now runs for 600 s
    two = context.intake.submit("c2", None, None, 0.0, None).feedback_id
    assert two is not None
    started = time.monotonic()
    document = context.applier.wait_for(two)
    assert context.intake.pending(document) == 0
    assert time.monotonic() - started < 60  # far inside the 600 s pace
