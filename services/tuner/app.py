"""The Tuner's MCP surface: ``feedback``, ``status``, ``promote`` (more tools land here).

Architect-editable: a later version may add tools. Rejected feedback is an
``isError`` result saying what to fix, and nothing is stored.
"""

from __future__ import annotations

from pathlib import Path

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from opentelemetry import trace
from pydantic import BaseModel, Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

import ratchet
from ratchet import datasets
from ratchet.bootstrap import release_store
from ratchet.builds import BuildStore
from ratchet.config import TunerSettings
from ratchet.errors import RatchetError
from ratchet.objects import open_object_store
from ratchet.sessions import SessionStore, valid_conversation_id
from ratchet.state import StateManager, open_state_manager
from ratchet.telemetry import annotate_turn
from ratchet.telemetry.links import add_link

from .applier import Applier
from .autopromote import AutoPromoter
from .context import TunerContext
from .intake import APPLIED, FeedbackRejected, Intake
from .promotion import Promoter, PromoteResult
from .scoring import DevScorer
from .tools import bandits as bandit_tools
from .tools import cmaes as cma_tools
from .tools import preferences as preference_tools
from .tools import rules as rule_tools

PROJECT_ROOT = Path(__file__).resolve().parents[2]


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


def build_server(
    settings: TunerSettings, manager: StateManager, sessions: SessionStore
) -> MCPServer:
    server = MCPServer(
        "ratchet-tuner",
        version=ratchet.__version__,
        instructions="Turns structured feedback on the Runner's answers into tuned state.",
        log_level="WARNING",
    )
    labels = datasets.labels(PROJECT_ROOT)
    intake = Intake(sessions, manager, labels)
    builds = BuildStore(settings.workspace_path, settings.home_path / "builds")
    objects = open_object_store(settings)
    promoter = Promoter(manager, intake, release_store(settings), builds, PROJECT_ROOT, objects)
    auto = AutoPromoter(promoter, settings.auto_promote_every)
    applier = Applier(intake, on_applied=auto.notice)
    context = TunerContext(
        settings=settings,
        manager=manager,
        sessions=sessions,
        objects=objects,
        intake=intake,
        scorer=DevScorer(manager, builds, PROJECT_ROOT),
        labels=frozenset(labels),
    )

    @server.tool(
        description=(
            "Feedback on one of the Runner's answers: the correct intent and/or a reward in "
            "[0, 1]. turn defaults to the conversation's latest; an idempotency_key makes "
            "retries count once. Stored durably before the answer and applied to staging in "
            "the background; wait=true answers only once it is applied."
        )
    )
    async def feedback(
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
            accepted = intake.submit(conversation_id, turn, correct_intent, reward, idempotency_key)
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
                staging = await anyio.to_thread.run_sync(applier.wait_for, accepted.feedback_id)
            else:
                applier.kick()
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

    @server.tool(description="Staging revision, feedback counts, active version, arm posteriors.")
    async def status() -> StatusResult:
        def read() -> StatusResult:
            staging = manager.read_staging()
            active = manager.read_active()
            total, _ = sessions.feedback_total()
            tuning = staging.tuning or {}
            arms = staging.data.get("strategy", {}).get("arms", {})
            return StatusResult(
                active_version=active.version if active else None,
                active_state_revision=active.revision if active else None,
                pinned=bool(active and active.pointer.pinned),
                staging_revision=staging.revision,
                feedback_total=total,
                feedback_applied=int(tuning.get(APPLIED, 0)),
                feedback_pending=intake.pending(staging),
                arms={
                    name: ArmStatus(
                        alpha=a["alpha"], beta=a["beta"], mean=a["alpha"] / (a["alpha"] + a["beta"])
                    )
                    for name, a in arms.items()
                },
                auto_promote_every=auto.every,
                last_auto_promotion=auto.last,
            )

        return await anyio.to_thread.run_sync(read)

    @server.tool(
        description=(
            "Release staging as the next patch version if the micro tier passes on it; "
            "otherwise nothing is tagged and the reason is returned."
        )
    )
    async def promote() -> PromoteResult:
        try:
            return await anyio.to_thread.run_sync(promoter.promote)
        except RatchetError as exc:
            raise ToolError(f"promote failed: {exc}") from None

    for register in (
        bandit_tools.register,
        cma_tools.register,
        preference_tools.register,
        rule_tools.register,
    ):
        register(server, context)

    @server.custom_route("/healthz", methods=["GET"])  # type: ignore[untyped-decorator]
    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return server


def create_app(settings: TunerSettings) -> Starlette:
    manager = open_state_manager(settings)
    manager.repair()  # a Tuner killed mid-write left derived files behind: fix them first
    sessions = SessionStore(settings.data_path / "sessions.sqlite3")
    server = build_server(settings, manager, sessions)
    return server.streamable_http_app(json_response=True, stateless_http=True, host=settings.host)
