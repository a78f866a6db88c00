"""The baseline for the Runner benchmark: a bare MCPServer with a trivial tool,
served with the Runner's transport settings (JSON responses, stateless HTTP,
the same uvicorn set-up and auth middleware).

The tools do no work but answer in the Runner's ``route`` and the Tuner's
``feedback`` output shapes: the MCP client
validates every structured result against the tool's output schema, in the
benchmark's own process, so equal shapes keep that client-side cost equal and
the ratio about the servers."""

from __future__ import annotations

from typing import ClassVar

from mcp.server.mcpserver import MCPServer
from pydantic import Field
from starlette.applications import Starlette

from ratchet.config import ServiceSettings
from ratchet.serving import run_service
from services.runner.tools.route import RouteResult
from services.tuner.tools.feedback import FeedbackResult


class BareSettings(ServiceSettings):
    service_name: ClassVar[str] = "bare"
    port: int = Field(default=0, alias="RATCHET_BARE_PORT")


ANSWER = {
    "intent": "card_arrival",
    "confidence": 0.5,
    "alternatives": [{"intent": "card_arrival", "score": 0.5}] * 3,
    "reply": "I can help with that: card arrival.",
    "reply_id": "card_arrival.a",
    "turn": 1,
    "version": "v0.1.0",
    "state_revision": 0,
    "arm": "centroid",
    "rule": None,
}

FEEDBACK = {
    "feedback_id": 1,
    "duplicate": False,
    "answered_version": "v0.1.0",
    "answered_state_revision": 0,
    "applied": False,
    "staging_revision": None,
}


def build(settings: BareSettings) -> Starlette:
    server = MCPServer("bare", log_level="WARNING")

    @server.tool()
    async def route(text: str, conversation_id: str | None = None) -> RouteResult:
        """Return a constant answer."""
        return RouteResult(conversation_id=conversation_id or "bare", **ANSWER)

    @server.tool()
    async def feedback(
        conversation_id: str,
        turn: int | None = None,
        correct_intent: str | None = None,
        reward: float | None = None,
        idempotency_key: str | None = None,
        wait: bool = False,
    ) -> FeedbackResult:
        """Return a constant acknowledgement."""
        return FeedbackResult(conversation_id=conversation_id, turn=turn or 1, **FEEDBACK)

    return server.streamable_http_app(json_response=True, stateless_http=True)


if __name__ == "__main__":
    run_service(build, BareSettings)
