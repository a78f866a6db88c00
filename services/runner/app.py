"""The Runner's MCP surface: tool ``route``, resource ``session://{conversation_id}``.

Bad input becomes a tool error (``isError``) or a resource error with a
message saying what to fix; an unexpected failure is logged with its
traceback here and reaches the client as a one-line error, never a trace.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio.to_thread
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from opentelemetry import metrics, trace
from pydantic import BaseModel, Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

import ratchet
from ratchet.audit import CallRecord
from ratchet.config import RunnerSettings
from ratchet.objects import open_object_store
from ratchet.sessions import CONVERSATION_ID as CONVERSATION_ID_PATTERN
from ratchet.sessions import valid_conversation_id
from ratchet.state import open_state_manager
from ratchet.telemetry import annotate_turn

from .agent.router import Prediction
from .agent.state import ArmName
from .runtime import RunnerRuntime, Served

meter = metrics.get_meter("ratchet.runner", ratchet.__version__)
calls_counter = meter.create_counter("ratchet.runner.calls", description="route calls by outcome")
latency_histogram = meter.create_histogram("ratchet.runner.latency", unit="ms")


class Alternative(BaseModel):
    intent: str
    score: float


class RouteResult(BaseModel):
    intent: str = Field(description="The intent the message is routed to.")
    confidence: float = Field(ge=0, le=1)
    alternatives: list[Alternative] = Field(description="Top 3 intents with their scores.")
    reply: str | None = Field(description="Suggested reply for the intent.")
    reply_id: str | None
    conversation_id: str
    turn: int = Field(ge=1)
    version: str = Field(description="Release that answered, vMAJOR.MINOR.PATCH.")
    state_revision: int
    arm: str = Field(description="Strategy arm used for this conversation.")
    rule: str | None = Field(description="Id of the rule that overrode the model, if any.")


class BadInput(ToolError):
    """The caller's arguments are wrong; audited as 'rejected', not as an error."""


def build_server(runtime: RunnerRuntime) -> MCPServer:
    server = MCPServer(
        "ratchet-runner",
        version=ratchet.__version__,
        instructions="Routes customer-support messages to one of 77 banking intents.",
        log_level="WARNING",
    )
    limit = runtime.settings.max_text_chars

    def check(text: str, conversation_id: str | None) -> str:
        if not text.strip():
            raise BadInput("text is empty: send the customer's message")
        if len(text) > limit:
            raise BadInput(f"text has {len(text)} characters; the limit is {limit}")
        if conversation_id is None:
            return uuid.uuid4().hex
        if not valid_conversation_id(conversation_id):
            raise BadInput(
                "conversation_id is malformed: 1-128 characters of letters, digits and "
                f"_.:- starting with a letter or digit ({CONVERSATION_ID_PATTERN.pattern})"
            )
        return conversation_id

    @server.tool(
        description=(
            "Route a customer message to an intent. Pass the conversation_id from a previous "
            f"answer to continue a conversation (omit it to start one). Text: 1-{limit} chars."
        )
    )
    async def route(text: str, conversation_id: str | None = None) -> RouteResult:
        started = time.perf_counter()
        served = runtime.served  # read once: this call finishes on this state
        # The SDK's span for this tools/call (MCP attributes, trace context from
        # params._meta) carries ours too; a child span per call would only add cost.
        span = trace.get_current_span()
        annotate_turn(span, version=served.version, state_revision=served.revision)
        cid, outcome, detail, result = conversation_id, "ok", None, None
        try:
            cid = check(text, conversation_id)
            annotate_turn(span, conversation_id=cid)
            async with runtime.sessions.lock(cid):
                arm = arm_for(served, cid)
                # Off the event loop: a model that computes for milliseconds (a sentence
                # embedding) would otherwise hold every concurrent call behind it.
                prediction = await anyio.to_thread.run_sync(served.router.predict, text, arm)
                result = record(served, cid, text, prediction)
            annotate_turn(span, turn=result.turn)
            return result
        except BadInput as exc:
            outcome, detail = "rejected", str(exc)
            raise
        except Exception as exc:
            outcome, detail = "error", f"{type(exc).__name__}: {exc}"
            span.record_exception(exc)
            raise ToolError("route failed on the server; the call was not recorded") from exc
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            span.set_attribute("ratchet.outcome", outcome)
            attributes = {"outcome": outcome, "version": served.version}
            calls_counter.add(1, attributes)
            latency_histogram.record(elapsed, attributes)
            runtime.audit.record(
                CallRecord(
                    tool="route",
                    latency_ms=elapsed,
                    outcome=outcome,
                    conversation_id=cid,
                    turn=result.turn if result else None,
                    version=served.version,
                    state_revision=served.revision,
                    detail=detail,
                    trace_id=format(span.get_span_context().trace_id, "032x"),
                    span_id=format(span.get_span_context().span_id, "016x"),
                )
            )

    def arm_for(served: Served, cid: str) -> ArmName:
        """The conversation's arm (a new conversation, or one whose arm is gone: sampled)."""
        arm = runtime.sessions.arm_of(cid)
        if arm not in served.router.state.strategy.arms:
            arm = served.router.choose_arm(cid)
        return arm

    def record(served: Served, cid: str, text: str, prediction: Prediction) -> RouteResult:
        """Record the turn and shape the answer (lock held)."""
        fields = {
            "intent": prediction.intent,
            "confidence": prediction.confidence,
            "alternatives": [
                {"intent": a.intent, "score": a.score} for a in prediction.alternatives
            ],
            "reply": prediction.reply.text if prediction.reply else None,
            "reply_id": prediction.reply.id if prediction.reply else None,
            "arm": prediction.arm,
            "rule": prediction.rule,
            "version": served.version,
            "state_revision": served.revision,
        }
        turn = runtime.sessions.record_turn(cid, text, fields)
        return RouteResult(conversation_id=cid, turn=turn, **fields)

    @server.resource(
        "session://{conversation_id}",
        description="A conversation's turns, each with its answer and the feedback on it.",
        mime_type="application/json",
    )
    def session(conversation_id: str) -> str:
        if not valid_conversation_id(conversation_id):
            raise ResourceError(f"malformed conversation id {conversation_id!r}")
        conversation = runtime.sessions.conversation(conversation_id)
        if conversation is None:
            raise ResourceNotFoundError(f"no conversation {conversation_id!r}")
        return json.dumps(conversation)

    @server.custom_route("/healthz", methods=["GET"])  # type: ignore[untyped-decorator]
    async def healthz(request: Request) -> JSONResponse:
        served = runtime.served
        return JSONResponse(
            {"status": "ok", "version": served.version, "state_revision": served.revision}
        )

    @server.custom_route("/metrics", methods=["GET"])  # type: ignore[untyped-decorator]
    async def window_metrics(request: Request) -> JSONResponse:
        try:
            seconds = float(request.query_params.get("window", "300"))
        except ValueError:
            return JSONResponse({"detail": "window must be a number of seconds"}, 400)
        if not 0 < seconds <= 30 * 86400:
            return JSONResponse({"detail": "window must be in (0, 2592000] seconds"}, 400)
        slow_ms = None
        if "slow_ms" in request.query_params:  # the Triggerer's latency SLO threshold
            try:
                slow_ms = float(request.query_params["slow_ms"])
            except ValueError:
                slow_ms = -1.0
            if not 0 < slow_ms < 1e9:
                return JSONResponse({"detail": "slow_ms must be a positive number"}, 400)
        stats = runtime.audit.window(seconds, tool="route", slow_ms=slow_ms)
        body = {k: getattr(stats, k) for k in stats.__slots__}
        return JSONResponse(
            {**body, "error_rate": stats.error_rate, "version": runtime.served.version}
        )

    return server


def create_app(
    settings: RunnerSettings, admits: Callable[[str | None], bool] | None = None
) -> Starlette:
    """The contract with the static host (:mod:`ratchet.release_follower`): one
    ASGI app per loaded version, its runtime started and stopped by its lifespan;
    ``admits(commit)`` tells whether this code may serve the release at ``commit``."""
    return build_app(make_runtime(settings, admits))


def make_runtime(
    settings: RunnerSettings, admits: Callable[[str | None], bool] | None = None
) -> RunnerRuntime:
    return RunnerRuntime(
        settings, open_state_manager(settings), open_object_store(settings), admits=admits
    )


def build_app(runtime: RunnerRuntime) -> Starlette:
    """Streamable HTTP with plain JSON responses and no server-side MCP sessions:
    any Runner process can answer any request, and no SSE stream can be cut."""
    server = build_server(runtime)
    app = server.streamable_http_app(
        json_response=True, stateless_http=True, host=runtime.settings.host
    )
    inner_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        runtime.start()
        try:
            async with inner_lifespan(app):
                yield
        finally:
            runtime.stop()

    app.router.lifespan_context = lifespan
    return app
