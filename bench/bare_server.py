"""The baseline for the Runner benchmark: a bare MCPServer with a trivial tool,
served with the Runner's transport settings (JSON responses, stateless HTTP,
the same uvicorn set-up and auth middleware).

The tool does no work but answers in the Runner's output shape: the MCP client
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


def build(settings: BareSettings) -> Starlette:
    server = MCPServer("bare", log_level="WARNING")

    @server.tool()
    async def route(text: str, conversation_id: str | None = None) -> RouteResult:
        """Return a constant answer."""
        return RouteResult(conversation_id=conversation_id or "bare", **ANSWER)

    return server.streamable_http_app(json_response=True, stateless_http=True)


if __name__ == "__main__":
    run_service(build, BareSettings)
