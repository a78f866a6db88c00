"""Span attributes naming the conversation turn a call is about.

The Runner's span for a ``route`` call and the Tuner's span for the feedback
on that answer carry the same attributes, so in the telemetry either is found
from the other: the conversation, the turn, and the release (version and
state revision) that made the answer.
"""

from __future__ import annotations

from opentelemetry.trace import Span
from opentelemetry.util.types import AttributeValue

CONVERSATION_ID = "gen_ai.conversation.id"
"""The span attribute naming the conversation (OpenTelemetry GenAI conventions)."""
TURN = "ratchet.turn"
"""The turn of the conversation, counted from 1 as the Runner records it."""
VERSION = "ratchet.version"
"""The release that answered the turn, vMAJOR.MINOR.PATCH."""
STATE_REVISION = "ratchet.state_revision"
"""The state revision that answered the turn."""


def annotate_turn(
    span: Span,
    *,
    conversation_id: str | None = None,
    turn: int | None = None,
    version: str | None = None,
    state_revision: int | None = None,
) -> None:
    """Set on ``span`` whichever of the turn's attributes are known (None: left as is).

    Callers pass a conversation id only once it is validated: a malformed one
    is the caller's input, rejected, and never recorded.
    """
    known: dict[str, AttributeValue | None] = {
        CONVERSATION_ID: conversation_id,
        TURN: turn,
        VERSION: version,
        STATE_REVISION: state_revision,
    }
    span.set_attributes({name: value for name, value in known.items() if value is not None})
