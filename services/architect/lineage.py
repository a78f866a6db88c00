"""What an Architect release learned from: the conversations its job's input named.

A wake job's evidence lists the failing conversations the Triggerer saw
(``conversation_id`` and ``turn``, at any depth of the evidence); a feedback
job's text may name conversations as ``conversation_id: ID`` (or ``=``).
Each is recorded with the trace id of the route call that answered the turn
when the Runner's audit log has it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ratchet.audit import AuditLog
from ratchet.config import CommonSettings
from ratchet.sessions import valid_conversation_id
from ratchet.vcs import MAX_EVENTS, FeedbackEvent, LearnedFrom, learned_from

from .jobs import Job

SOURCE = "architect_job"
_MENTION = re.compile(r"\bconversation_id\s*[:=]\s*[\"']?([A-Za-z0-9][A-Za-z0-9_.:-]{0,127})")
_MAX_DEPTH = 6  # evidence is a few levels deep; a deeper walk buys nothing


def named_turns(job: Job) -> list[tuple[str, int | None]]:
    """The (conversation id, turn or None) pairs the job's input names, each once, in order."""
    found = [*_in_evidence(job.evidence or {}, 0), *_in_text(job.text)]
    return list(dict.fromkeys(found))


def _in_evidence(value: Any, depth: int) -> Iterator[tuple[str, int | None]]:
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, dict):
        cid = value.get("conversation_id")
        if isinstance(cid, str) and valid_conversation_id(cid):
            turn = value.get("turn")
            valid_turn = isinstance(turn, int) and not isinstance(turn, bool) and turn >= 1
            yield cid, turn if valid_turn else None
        for item in value.values():
            yield from _in_evidence(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _in_evidence(item, depth + 1)


def _in_text(text: str) -> Iterator[tuple[str, int | None]]:
    for match in _MENTION.finditer(text):
        cid = match.group(1).rstrip(".:-")  # sentence punctuation is not part of the id
        if valid_conversation_id(cid):
            yield cid, None


def job_lineage(job: Job, settings: CommonSettings) -> LearnedFrom:
    """The job's named conversations, with route-call trace ids from the home's audit log."""
    turns = named_turns(job)
    known = [(cid, turn) for cid, turn in turns[:MAX_EVENTS] if turn is not None]
    audit = AuditLog.open(settings)
    try:
        spans = audit.route_calls(known)
    finally:
        audit.close()
    return learned_from(
        SOURCE,
        (
            FeedbackEvent(
                conversation_id=cid,
                turn=turn,
                trace_id=span.trace_id
                if turn is not None and (span := spans.get((cid, turn)))
                else None,
            )
            for cid, turn in turns
        ),
    )
