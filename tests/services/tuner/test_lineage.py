"""The Tuner joins feedback to the route call's span, and a patch names what it learned from."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from ratchet.audit import AUDIT_FILE, AuditLog, SpanRef
from ratchet.bootstrap import release_store
from ratchet.config import CommonSettings
from ratchet.sessions import SessionStore
from ratchet.state import open_state_manager
from ratchet.vcs import MAX_EVENTS
from services.tuner.app import build_server
from services.tuner.intake import Intake
from services.tuner.promotion import lineage_of
from services.tuner.settings import TunerSettings
from tests.helpers.audit import audit_route_call
from tests.helpers.mcp import call
from tests.services.tuner.conftest import answered

pytestmark = pytest.mark.anyio

SPAN = "00f067aa0ba902b7"


def trace_of(turn: int) -> str:
    return f"{turn:032x}"


def audited(where: CommonSettings | Path, cid: str, turn: int) -> None:
    """The Runner's audit record of the route call that answered the turn."""
    audit_route_call(where, cid, turn, trace_of(turn), SPAN)


def test_accepted_feedback_carries_the_route_calls_span(
    tuner_settings: TunerSettings, sessions: SessionStore
) -> None:
    intake = Intake(sessions, open_state_manager(tuner_settings), ("card_arrival",))
    first, second = answered(sessions, "c-1"), answered(sessions, "c-1")
    audited(tuner_settings, "c-1", first)
    linked = intake.submit("c-1", first, "card_arrival", None, None)
    unlinked = intake.submit("c-1", second, None, 1.0, None)  # its route call was not audited
    intake.audit.close()
    assert linked.route_call == SpanRef(trace_of(first), SPAN)
    link = linked.route_call_link
    assert link is not None and format(link.context.trace_id, "032x") == trace_of(first)
    assert unlinked.route_call is None and unlinked.route_call_link is None


def test_the_lineage_of_a_patch_names_the_first_feedback_and_counts_all(tmp_path: Path) -> None:
    audited(tmp_path, "c-0", 1)
    rows = [{"id": i + 1, "conversation_id": f"c-{i}", "turn": 1} for i in range(MAX_EVENTS + 5)]
    audit = AuditLog(tmp_path / AUDIT_FILE)
    try:
        lineage = lineage_of(rows, audit)
    finally:
        audit.close()
    assert (lineage.source, lineage.total, len(lineage.events)) == (
        "tuner_feedback",
        MAX_EVENTS + 5,
        MAX_EVENTS,
    )
    assert lineage.events[0].trace_id == trace_of(1) and lineage.events[1].trace_id is None
    assert lineage.events[0].model_extra == {"feedback_id": 1}


async def test_a_promoted_patch_names_the_feedback_it_was_tuned_on(
    project_home: TunerSettings, store: SessionStore
) -> None:
    turn = answered(store, "c-early", arm="blend")
    audited(project_home, "c-early", turn)
    async with Client(build_server(project_home, open_state_manager(project_home), store)) as c:
        await call(c, "feedback", conversation_id="c-early", reward=1.0)
        assert (await call(c, "promote"))["version"] == "v0.1.1"
        answered(store, "c-late", arm="blend")
        await call(c, "feedback", conversation_id="c-late", reward=0.0)
        assert (await call(c, "promote"))["version"] == "v0.1.2"
    releases = release_store(project_home)
    first = releases.get("v0.1.1").metadata.learned_from
    second = releases.get("v0.1.2").metadata.learned_from
    assert first is not None and second is not None
    assert [(e.conversation_id, e.turn, e.trace_id) for e in first.events] == [
        ("c-early", turn, trace_of(turn))
    ]
    # Only the feedback since the parent release: v0.1.2 did not learn from c-early again.
    assert second.conversations() == ["c-late"] and second.total == 1
    assert second.events[0].trace_id is None  # no audit record of that route call
