"""``tune_release``: tune the active release's params on dev; a patch when they win.

The Architect asks for it after a minor or major release. The tune runs in
the background (:mod:`services.tuner.release_tuning`); the call answers at
once with its progress, and ``status`` shows it until it ends.
"""

from __future__ import annotations

from typing import Annotated

import anyio
from mcp.server.mcpserver import MCPServer
from pydantic import Field

from ..context import TunerContext
from ..release_tuning import ReleaseTuner, ReleaseTuning

DESCRIPTION = (
    "Tune every param the ACTIVE release's state declares with the state's CMA-ES study "
    "on the dev split (`evaluations` scores, in the background) and release the best as a "
    "patch if it beats the active params by more than the noise margin of ci/budgets.json. "
    "Answers at once: a tune already running answers its progress; a release tuned before "
    "answers its verdict (phase `done`). Progress and outcome also in `status`."
)


class TuneReleaseTool:
    def __init__(self, tuner: ReleaseTuner) -> None:
        self.tuner = tuner

    async def tune_release(
        self, evaluations: Annotated[int, Field(ge=1, le=2000)] = 48
    ) -> ReleaseTuning:
        return await anyio.to_thread.run_sync(lambda: self.tuner.ask(evaluations))


def register(server: MCPServer, ctx: TunerContext) -> None:
    server.add_tool(TuneReleaseTool(ctx.release_tuner).tune_release, description=DESCRIPTION)
