"""``feedback``: a verdict on one of the Runner's answers, stored, applied in the background.

Rejected feedback is an ``isError`` result saying what to fix, and nothing
is stored.
"""

from __future__ import annotations

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from opentelemetry import trace
from pydantic import BaseModel, Field

from ratchet.sessions import valid_conversation_id
from ratchet.telemetry import annotate_turn
from ratchet.telemetry.links import add_link

from ..applier import Applier
from ..context import TunerContext
from ..intake import FeedbackRejected, Intake

DESCRIPTION = (
    "Feedback on one of the Runner's answers: the correct intent and/or a reward in "
    "[0, 1]. The correct intent may be the task's out-of-scope label (the turn fitted "
    "no intent), and an out-of-scope answer may be corrected to an intent. turn defaults "
    "to the conversation's latest; an idempotency_key makes "
    "retries count once. Stored durably before the answer and applied to staging in "
    "the background; wait=true answers only once it is applied."
)


class FeedbackResult(BaseModel):
    feedback_id: int | None = Field(description="Id of the stored feedback; null if duplicate.")
    duplicate: bool = Field(description="The idempotency key was seen before: counted once.")
    conversation_id: str
    turn: int
    answered_version: str = Field(description="Version that made the answer.")
    answered_state_revision: int
    applied: bool = Field(
        description="Already folded into staging; otherwise it is stored and pending, "
        "applied in the background within moments (see status)."
    )
    staging_revision: int | None = Field(
        description="Staging revision holding this feedback, when it is applied."
    )


class FeedbackTool:
    def __init__(self, intake: Intake, applier: Applier) -> None:
        self.intake = intake
        self.applier = applier

    async def feedback(
        self,
        conversation_id: str,
        turn: int | None = None,
        correct_intent: str | None = None,
        reward: float | None = None,
        idempotency_key: str | None = None,
        wait: bool = False,
    ) -> FeedbackResult:
        # The SDK's span for this call names the turn as the Runner's span for the
        # route call did, so the feedback on an answer is found from the answer.
        span = trace.get_current_span()
        try:
            accepted = self.intake.submit(
                conversation_id, turn, correct_intent, reward, idempotency_key
            )
        except FeedbackRejected as exc:
            if valid_conversation_id(conversation_id):  # a malformed id is never recorded
                annotate_turn(span, conversation_id=conversation_id)
            raise ToolError(str(exc)) from None
        annotate_turn(
            span,
            conversation_id=accepted.conversation_id,
            turn=accepted.turn,  # the latest turn when the caller named none
            version=accepted.version,
            state_revision=accepted.state_revision,
        )
        add_link(span, accepted.route_call_link)  # a trace store joins it to the route call
        staging = None
        if accepted.feedback_id is not None:
            if wait:
                staging = await anyio.to_thread.run_sync(
                    self.applier.wait_for, accepted.feedback_id
                )
            else:
                self.applier.kick()
        return FeedbackResult(
            feedback_id=accepted.feedback_id,
            duplicate=accepted.feedback_id is None,
            conversation_id=accepted.conversation_id,
            turn=accepted.turn,
            answered_version=accepted.version,
            answered_state_revision=accepted.state_revision,
            applied=staging is not None,
            staging_revision=staging.revision if staging else None,
        )


def register(server: MCPServer, ctx: TunerContext) -> None:
    server.add_tool(FeedbackTool(ctx.intake, ctx.applier).feedback, description=DESCRIPTION)
