"""The baseline for the Runner benchmark: a bare MCPServer with a trivial tool,
served with the Runner's transport settings (JSON responses, stateless HTTP,
the same uvicorn set-up and auth middleware)."""

from __future__ import annotations

from typing import ClassVar

from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel, Field
from starlette.applications import Starlette

from ratchet.config import ServiceSettings
from ratchet.serving import run_service


class BareSettings(ServiceSettings):
    service_name: ClassVar[str] = "bare"
    port: int = Field(default=0, alias="RATCHET_BARE_PORT")


class Echo(BaseModel):
    text: str
    length: int


def build(settings: BareSettings) -> Starlette:
    server = MCPServer("bare", log_level="WARNING")

    @server.tool()
    async def route(text: str, conversation_id: str | None = None) -> Echo:
        """Echo the text back."""
        return Echo(text=text, length=len(text))

    return server.streamable_http_app(json_response=True, stateless_http=True)


if __name__ == "__main__":
    run_service(build, BareSettings)
