"""What a release learned from: the feedback named in its tag metadata.

A release's tag carries, under ``learned_from``, the feedback events it was
made from (each a conversation, the turn, and the trace id of the route call
that answered it), so one query goes from a customer's message to the
release that changed its answer. A tag message is no place for an unbounded
list: the first :data:`MAX_EVENTS` events are named, ``total`` counts them
all. Tags made before lineage was recorded have no ``learned_from``.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

MAX_EVENTS = 100
"""How many feedback events a tag names at most (the rest are only counted)."""


class FeedbackEvent(BaseModel):
    """One piece of feedback a release learned from."""

    model_config = ConfigDict(extra="allow")

    conversation_id: str
    turn: int | None = Field(default=None, description="The turn, when the input named one.")
    trace_id: str | None = Field(
        default=None, description="Trace id of the route call that answered the turn, if known."
    )


class LearnedFrom(BaseModel):
    """The feedback a release was made from (bounded: the first events and a total)."""

    model_config = ConfigDict(extra="allow")

    source: str = Field(
        description="tuner_feedback: feedback since the parent release the state was tuned on; "
        "architect_job: the conversations the job's feedback or wake input named."
    )
    total: int = Field(ge=0, description="Every feedback event, named or not.")
    events: list[FeedbackEvent] = Field(
        default_factory=list, description=f"The first events, at most {MAX_EVENTS}."
    )

    @property
    def truncated(self) -> bool:
        return self.total > len(self.events)

    def conversations(self) -> list[str]:
        """The conversation ids named, each once, in order."""
        return list(dict.fromkeys(event.conversation_id for event in self.events))


def learned_from(
    source: str,
    events: Iterable[FeedbackEvent],
    *,
    total: int | None = None,
    limit: int = MAX_EVENTS,
) -> LearnedFrom:
    """The bounded record of ``events``: the first ``limit`` named, all counted.

    ``total`` is for a caller that built only the events it names (it counted
    the rest); by default every event given is counted.
    """
    named: list[FeedbackEvent] = []
    counted = 0
    for event in events:
        counted += 1
        if len(named) < limit:
            named.append(event)
    return LearnedFrom(source=source, total=counted if total is None else total, events=named)
