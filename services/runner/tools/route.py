"""``route``: a customer message to one of the intents, or out of scope, within a conversation.

Bad input is a tool error (``isError``) saying what to fix, audited as
'rejected'; an unexpected failure is recorded on the span and reaches the
client as a one-line error, never a trace. A call's audit row and metrics are
written once its answer is sent (:mod:`ratchet.after_response`).
"""

from __future__ import annotations

import functools
import secrets
import time

import anyio.to_thread
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from opentelemetry import metrics, trace
from opentelemetry.trace import SpanContext
from pydantic import BaseModel, Field

import ratchet
from ratchet.after_response import after_response
from ratchet.audit import CallRecord
from ratchet.db import Dialect
from ratchet.sessions import CONVERSATION_ID as CONVERSATION_ID_PATTERN
from ratchet.sessions import valid_conversation_id
from ratchet.telemetry import annotate_turn

from ..agent.router import Prediction
from ..agent.state import ArmName
from ..runtime import RunnerRuntime, Served, Serving
from .placement import PredictionPlacement

meter = metrics.get_meter("ratchet.runner", ratchet.__version__)
calls_counter = meter.create_counter("ratchet.runner.calls", description="route calls by outcome")
latency_histogram = meter.create_histogram("ratchet.runner.latency", unit="ms")


class Alternative(BaseModel):
    intent: str
    score: float


class RouteResult(BaseModel):
    intent: str = Field(
        description="The intent the message is routed to; the task's out-of-scope label "
        "when out_of_scope."
    )
    out_of_scope: bool = Field(
        default=False,
        description="No intent fits (the state's abstain rule): the reply is the task's "
        "out-of-scope reply and alternatives the best in-scope guesses.",
    )
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


class RouteTool:
    def __init__(self, runtime: RunnerRuntime) -> None:
        self.runtime = runtime
        self.limit = runtime.settings.max_text_chars
        self.offload = runtime.sessions.db.dialect is not Dialect.SQLITE
        self.placement = PredictionPlacement()

    @property
    def description(self) -> str:
        return (
            "Route a customer message to an intent. Pass the conversation_id from a previous "
            f"answer to continue a conversation (omit it to start one). Text: 1-{self.limit} chars."
        )

    async def route(self, text: str, conversation_id: str | None = None) -> RouteResult:
        started = time.perf_counter()
        serving = self.runtime.serving  # read once: this call finishes on this state
        served = serving.stable  # until the conversation is known
        # The SDK's span for this tools/call (MCP attributes, trace context from
        # params._meta) carries ours too; a child span per call would only add cost.
        span = trace.get_current_span()
        cid, checked, turn, outcome, detail = conversation_id, None, None, "ok", None
        try:
            cid = checked = self.check(text, conversation_id)
            if conversation_id is None:
                # An id made here: no turn of it exists, and no other call knows it to
                # hold its lock.
                served, result = await self.answer(serving, cid, text, new=True)
            else:
                async with self.runtime.sessions.lock(cid):
                    served, result = await self.answer(serving, cid, text)
            turn = result.turn
            return result
        except BadInput as exc:
            outcome, detail = "rejected", str(exc)
            raise
        except Exception as exc:
            outcome, detail = "error", f"{type(exc).__name__}: {exc}"
            span.record_exception(exc)
            raise ToolError("route failed on the server; the call was not recorded") from exc
        finally:
            # Set once, as the call ends: a malformed conversation id (never checked)
            # is the caller's input, rejected, and not recorded on the span.
            annotate_turn(
                span,
                conversation_id=checked,
                turn=turn,
                version=served.version,
                state_revision=served.revision,
            )
            span.set_attribute("ratchet.outcome", outcome)
            latency_ms = (time.perf_counter() - started) * 1000
            # The turn is committed before the answer; the call's audit row and
            # metrics only describe it, so the client waits neither for them nor
            # for building the row.
            await after_response(
                functools.partial(
                    self.account,
                    span.get_span_context(),
                    latency_ms,
                    cid,
                    turn,
                    served,
                    outcome,
                    detail,
                )
            )

    async def answer(
        self, serving: Serving, cid: str, text: str, *, new: bool = False
    ) -> tuple[Served, RouteResult]:
        """Choose the side and arm, predict and record the turn (the conversation's lock
        held, unless the call started it). A prediction runs in a worker thread unless
        it is known to be cheap (:mod:`.placement`): a model that computes for
        milliseconds (a sentence embedding) would otherwise hold every concurrent call
        behind it. On a database server all of it runs in a worker thread: a round trip
        (and its commit's flush) must not stop the event loop, and concurrent calls'
        commits then overlap and share the server's log flushes. A conversation the call
        starts (``new``) has nothing recorded to look up.
        The embedded files are written on the loop: microseconds, and cheaper there than
        from a worker thread that competes with the loop for the GIL (measured:
        bench/README.md, "Databases")."""
        if self.offload:
            return await anyio.to_thread.run_sync(self.answer_here, serving, cid, text, new)
        served, arm = self.side_and_arm(serving, cid, new=new)
        predict = functools.partial(served.router.predict, text, arm)
        prediction = await self.placement.run(served.router, arm, predict)
        return served, self.record(served, cid, text, prediction, new=new)

    def answer_here(
        self, serving: Serving, cid: str, text: str, new: bool = False
    ) -> tuple[Served, RouteResult]:
        """:meth:`answer` in one go, in the calling (worker) thread."""
        served, arm = self.side_and_arm(serving, cid, new=new)
        prediction = served.router.predict(text, arm)
        return served, self.record(served, cid, text, prediction, new=new)

    def check(self, text: str, conversation_id: str | None) -> str:
        """The conversation id to answer in (a new one if none); BadInput if the call is wrong."""
        if not text.strip():
            raise BadInput("text is empty: send the customer's message")
        if len(text) > self.limit:
            raise BadInput(f"text has {len(text)} characters; the limit is {self.limit}")
        if conversation_id is None:
            return secrets.token_hex(16)
        if not valid_conversation_id(conversation_id):
            raise BadInput(
                "conversation_id is malformed: 1-128 characters of letters, digits and "
                f"_.:- starting with a letter or digit ({CONVERSATION_ID_PATTERN.pattern})"
            )
        return conversation_id

    def side_and_arm(
        self, serving: Serving, cid: str, *, new: bool = False
    ) -> tuple[Served, ArmName]:
        """The version that answers the conversation (during a rollout, the one that
        answered it so far, else the hash of its id decides) and its arm there (a new
        conversation, or one whose arm is gone: sampled). One query for both, none for a
        conversation this call started (``new``): on a database server that is a round
        trip saved on every first turn."""
        recorded = None if new else self.runtime.sessions.assignment_of(cid)
        arm, version = recorded if recorded is not None else (None, None)
        served = serving.for_conversation(cid, version)
        if arm not in served.router.state.strategy.arms:
            arm = served.router.choose_arm(cid)
        return served, arm

    def record(
        self, served: Served, cid: str, text: str, prediction: Prediction, *, new: bool = False
    ) -> RouteResult:
        """Record the turn and shape the answer (lock held, or ``new``: a conversation
        this call started)."""
        # An out-of-scope reply is the task's, not a state variant: no reply_id.
        reply_id = None if prediction.out_of_scope or not prediction.reply else prediction.reply.id
        fields = {
            "intent": prediction.intent,
            "out_of_scope": prediction.out_of_scope,
            "confidence": prediction.confidence,
            "alternatives": [
                {"intent": a.intent, "score": a.score} for a in prediction.alternatives
            ],
            "reply": prediction.reply.text if prediction.reply else None,
            "reply_id": reply_id,
            "arm": prediction.arm,
            "rule": prediction.rule,
            "version": served.version,
            "state_revision": served.revision,
        }
        turn = self.runtime.sessions.record_turn(cid, text, fields, new=new)
        return RouteResult(conversation_id=cid, turn=turn, **fields)

    async def account(
        self,
        context: SpanContext,
        latency_ms: float,
        cid: str | None,
        turn: int | None,
        served: Served,
        outcome: str,
        detail: str | None,
    ) -> None:
        """The call in the metrics and the audit log (once its answer is sent; its row is
        built here too, off the answer's path). ``context`` is the call's span's."""
        attributes = {"outcome": outcome, "version": served.version}
        # The span has ended by now: passing its context makes this call an exemplar
        # of its latency bucket (trace and span id), so a slow bucket leads to a trace.
        call = trace.set_span_in_context(trace.NonRecordingSpan(context))
        calls_counter.add(1, attributes, context=call)
        latency_histogram.record(latency_ms, attributes, context=call)
        record = CallRecord(
            tool="route",
            latency_ms=latency_ms,
            outcome=outcome,
            conversation_id=cid,
            turn=turn,
            version=served.version,
            state_revision=served.revision,
            detail=detail,
            trace_id=format(context.trace_id, "032x"),
            span_id=format(context.span_id, "016x"),
        )
        if self.offload:
            await anyio.to_thread.run_sync(self.runtime.audit.record, record)
        else:
            self.runtime.audit.record(record)


def register(server: MCPServer, runtime: RunnerRuntime) -> None:
    tool = RouteTool(runtime)
    server.add_tool(tool.route, description=tool.description)
