"""Resource ``session://{conversation_id}``: a conversation's turns and the feedback on them."""

from __future__ import annotations

import json

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError

from ratchet.sessions import SessionStore, valid_conversation_id

from ..runtime import RunnerRuntime


class SessionResource:
    def __init__(self, sessions: SessionStore) -> None:
        self.sessions = sessions

    def session(self, conversation_id: str) -> str:
        if not valid_conversation_id(conversation_id):
            raise ResourceError(f"malformed conversation id {conversation_id!r}")
        conversation = self.sessions.conversation(conversation_id)
        if conversation is None:
            raise ResourceNotFoundError(f"no conversation {conversation_id!r}")
        return json.dumps(conversation)


def register(server: MCPServer, runtime: RunnerRuntime) -> None:
    server.resource(
        "session://{conversation_id}",
        description="A conversation's turns, each with its answer and the feedback on it.",
        mime_type="application/json",
    )(SessionResource(runtime.sessions).session)
