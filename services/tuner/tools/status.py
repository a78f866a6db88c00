"""``status``: staging revision, feedback counts, active version, arm posteriors, the
release tuning (:mod:`services.tuner.release_tuning`)."""

from __future__ import annotations

import anyio
from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel, Field

from ratchet.sessions import SessionStore
from ratchet.state import StateManager

from ..autopromote import AutoPromoter
from ..context import TunerContext
from ..intake import APPLIED, Intake
from ..promotion import PromoteResult
from ..release_tuning import ReleaseTuner, ReleaseTuning


class ArmStatus(BaseModel):
    alpha: float
    beta: float
    mean: float


class StatusResult(BaseModel):
    active_version: str | None
    active_state_revision: int | None
    pinned: bool
    staging_revision: int
    feedback_total: int
    feedback_applied: int
    feedback_pending: int
    arms: dict[str, ArmStatus]
    auto_promote_every: int = Field(description="0: promotion only on `promote`.")
    last_auto_promotion: PromoteResult | None
    release_tuning: ReleaseTuning = Field(
        description="The last `tune_release` of this process: progress or outcome."
    )


class StatusTool:
    def __init__(
        self,
        manager: StateManager,
        sessions: SessionStore,
        intake: Intake,
        auto: AutoPromoter,
        tuning: ReleaseTuner,
    ) -> None:
        self.tuning = tuning
        self.manager = manager
        self.sessions = sessions
        self.intake = intake
        self.auto = auto

    async def status(self) -> StatusResult:
        return await anyio.to_thread.run_sync(self.read)

    def read(self) -> StatusResult:
        staging = self.manager.read_staging()
        active = self.manager.read_active()
        total, _ = self.sessions.feedback_total()
        tuning = staging.tuning or {}
        arms = staging.data.get("strategy", {}).get("arms", {})
        return StatusResult(
            active_version=active.version if active else None,
            active_state_revision=active.revision if active else None,
            pinned=bool(active and active.pointer.pinned),
            staging_revision=staging.revision,
            feedback_total=total,
            feedback_applied=int(tuning.get(APPLIED, 0)),
            feedback_pending=self.intake.pending(staging),
            arms={
                name: ArmStatus(
                    alpha=a["alpha"], beta=a["beta"], mean=a["alpha"] / (a["alpha"] + a["beta"])
                )
                for name, a in arms.items()
            },
            auto_promote_every=self.auto.every,
            last_auto_promotion=self.auto.last,
            release_tuning=self.tuning.current,
        )


def register(server: MCPServer, ctx: TunerContext) -> None:
    tool = StatusTool(ctx.manager, ctx.sessions, ctx.intake, ctx.auto, ctx.release_tuner)
    server.add_tool(
        tool.status,
        description="Staging revision, feedback counts, active version, arm posteriors, "
        "the release tuning's progress or outcome.",
    )
