"""Replayed traffic: the task's messages routed through the Runner by MCP clients.

Each message goes to ``route`` on the Runner; its true intent comes back,
``feedback_delay_s`` later, as a correction (or confirmation) to the Tuner's
``feedback`` tool, keyed by conversation and turn so a retry counts once, as a
user's or a reviewer's late verdict would. Every turn is kept as a
:class:`Turn` for the chart.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.abc
from mcp import Client

from ratchet.datasets import Example
from ratchet.errors import RatchetError


class ToolFailed(RatchetError):
    """An MCP tool answered with an error."""


@dataclass(frozen=True)
class Turn:
    at: float  # seconds since the demo began
    phase: str
    intent: str  # the true intent
    answered: str
    version: str

    @property
    def right(self) -> bool:
        return self.intent == self.answered


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    """A tool's structured result; ToolFailed with the server's message on an error."""
    result = await client.call_tool(tool, arguments)
    if result.is_error:
        text = " ".join(getattr(c, "text", "") for c in result.content)
        raise ToolFailed(f"{tool}: {text or 'error'}")
    return dict(result.structured_content or {})


class Replay:
    """Routes examples through ``clients`` concurrent MCP clients; corrections follow later."""

    def __init__(
        self,
        runner_url: str,
        tuner_url: str,
        *,
        started: float,
        clients: int = 4,
        feedback_delay_s: float = 0.5,
    ) -> None:
        self.runner_mcp = f"{runner_url}/mcp"
        self.tuner_mcp = f"{tuner_url}/mcp"
        self.started = started
        self.clients = clients
        self.feedback_delay_s = feedback_delay_s

    async def run(
        self,
        examples: Sequence[Example],
        phase: str,
        on_turn: Callable[[Turn], None] = lambda turn: None,
    ) -> list[Turn]:
        """Route every example once; return when every correction has been delivered."""
        turns: list[Turn] = []
        send, receive = anyio.create_memory_object_stream[tuple[float, str, int, str]](math.inf)

        async def route(part: Sequence[Example]) -> None:
            async with send.clone() as corrections, Client(self.runner_mcp) as runner:
                for example in part:
                    answer = await call(runner, "route", text=example.text)
                    turn = Turn(
                        time.monotonic() - self.started,
                        phase,
                        example.intent,
                        str(answer["intent"]),
                        str(answer["version"]),
                    )
                    turns.append(turn)
                    on_turn(turn)
                    due = time.monotonic() + self.feedback_delay_s
                    conversation = str(answer["conversation_id"])
                    await corrections.send((due, conversation, int(answer["turn"]), example.intent))

        async def correct(
            pending: anyio.abc.ObjectReceiveStream[tuple[float, str, int, str]],
        ) -> None:
            async with pending, Client(self.tuner_mcp) as tuner:
                async for due, conversation, turn, intent in pending:
                    # The verdict arrives late, as a user's would: wait until it is due.
                    await anyio.sleep(max(0.0, due - time.monotonic()))
                    await call(
                        tuner,
                        "feedback",
                        conversation_id=conversation,
                        turn=turn,
                        correct_intent=intent,
                        idempotency_key=f"demo:{conversation}:{turn}",
                    )

        try:
            async with anyio.create_task_group() as group, receive:
                for _ in range(2):  # two feedback senders keep up with the routing clients
                    group.start_soon(correct, receive.clone())
                async with send, anyio.create_task_group() as routers:
                    for index in range(self.clients):
                        routers.start_soon(route, examples[index :: self.clients])
        except ExceptionGroup as group:
            # A tool's refusal is the demo's error to show (one line), not a task-group traceback.
            failed = group.subgroup(ToolFailed)
            if failed is None:
                raise
            raise _leaves(failed)[0] from None
        return turns


def _leaves(group: BaseExceptionGroup[ToolFailed]) -> list[ToolFailed]:
    """The exceptions of a (nested) group, depth first."""
    found: list[ToolFailed] = []
    for exc in group.exceptions:
        found += _leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc]
    return found
