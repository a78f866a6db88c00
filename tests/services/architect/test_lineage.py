"""An Architect release names the conversations its job's input named, with their traces."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ratchet.config import CommonSettings
from services.architect.context import ArchitectContext
from services.architect.jobs import Job, JobKind, JobStatus
from services.architect.lineage import job_lineage, named_turns
from services.architect.worker import Worker
from tests.helpers.audit import audit_route_call
from tests.services.architect.conftest import architect_settings, good_patch

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


def job(text: str, evidence: dict[str, Any] | None = None) -> Job:
    return Job(
        id="job-1",
        kind=JobKind.WAKE if evidence else JobKind.FEEDBACK,
        status=JobStatus.RUNNING,
        text=text,
        has_patch=False,
        evidence=evidence,
        created_at="2026-01-01T00:00:00Z",
    )


WAKE_EVIDENCE = {
    "windows": [{"seconds": 60, "burn": 6.2}],
    "failing_conversations": [
        {"conversation_id": "c-7", "turn": 3, "answered": "a", "correct": "b"},
        {"conversation_id": "c-8", "turn": True},  # not a turn
        {"conversation_id": "not an id", "turn": 1},
        {"conversation_id": "c-7", "turn": 3},  # named twice: once
    ],
}


def test_a_wake_job_names_its_failing_conversations() -> None:
    assert named_turns(job("SLO alarm: routing accuracy", WAKE_EVIDENCE)) == [
        ("c-7", 3),
        ("c-8", None),
    ]


def test_a_feedback_jobs_text_names_conversations_explicitly() -> None:
    text = (
        'The answer in conversation_id: c-41 was wrong, and conversation_id="c-42". '
        "A bare conversation_id c-40 is not one. Also conversation_id: c-43."
    )
    assert named_turns(job(text)) == [("c-41", None), ("c-42", None), ("c-43", None)]
    assert named_turns(job("make the Runner faster")) == []


def test_the_lineage_has_trace_ids_where_the_audit_log_knows_the_turn(tmp_path: Path) -> None:
    settings = CommonSettings(home=tmp_path)
    audit_route_call(settings, "c-7", 3, TRACE, SPAN)
    lineage = job_lineage(job("SLO alarm", WAKE_EVIDENCE), settings)
    assert lineage.source == "architect_job" and lineage.total == 2
    assert [(e.conversation_id, e.turn, e.trace_id) for e in lineage.events] == [
        ("c-7", 3, TRACE),
        ("c-8", None, None),
    ]
    nothing = job_lineage(job("make the Runner faster"), settings)
    assert (nothing.total, nothing.events) == (0, [])


@pytest.mark.slow
def test_a_released_job_names_the_conversations_it_learned_from(tmp_path: Path) -> None:
    ctx = ArchitectContext.from_settings(architect_settings(tmp_path / "home"))
    try:
        audit_route_call(ctx.settings, "c-7", 3, TRACE, SPAN)
        ctx.jobs.create(
            JobKind.FEEDBACK,
            "say which version answers; see conversation_id: c-9",
            patch=good_patch(ctx.settings.workspace_path),
            evidence={"failing_conversations": [{"conversation_id": "c-7", "turn": 3}]},
        )
        (done,) = Worker(ctx).run_pending()
        assert done.status is JobStatus.SUCCEEDED and done.version, (done.reason, done.stages)
        lineage = ctx.releases.get(done.version).metadata.learned_from
    finally:
        ctx.close()
    assert lineage is not None and lineage.conversations() == ["c-7", "c-9"]
    assert lineage.events[0].trace_id == TRACE
