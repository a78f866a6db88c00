"""``promote``: release staging as the next patch if the micro tier passes on it."""

from __future__ import annotations

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from ratchet.errors import RatchetError

from ..context import TunerContext
from ..promotion import Promoter, PromoteResult

DESCRIPTION = (
    "Release staging as the next patch version if the micro tier passes on it; "
    "otherwise nothing is tagged and the reason is returned."
)


class PromoteTool:
    def __init__(self, promoter: Promoter) -> None:
        self.promoter = promoter

    async def promote(self) -> PromoteResult:
        try:
            return await anyio.to_thread.run_sync(self.promoter.promote)
        except RatchetError as exc:
            raise ToolError(f"promote failed: {exc}") from None


def register(server: MCPServer, ctx: TunerContext) -> None:
    server.add_tool(PromoteTool(ctx.promoter).promote, description=DESCRIPTION)
