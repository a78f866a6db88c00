"""The Tuner as a real process: 8 clients x 250 feedbacks, none lost, none twice."""

from __future__ import annotations

import anyio
import httpx
import pytest
from mcp import Client
from mcp.types import CallToolResult

from ratchet.sessions import SessionStore
from services.tuner.settings import TunerSettings
from tests.helpers.mcp import call
from tests.helpers.processes import home_env, running
from tests.services.tuner.conftest import answered, settled

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

CLIENTS, CALLS = 8, 250


async def test_eight_clients_feedback_is_recorded_and_applied_exactly_once(
    tuner_settings: TunerSettings, sessions: SessionStore
) -> None:
    for index in range(CLIENTS):
        for _ in range(CALLS):
            answered(sessions, f"conv-{index}", arm=("centroid", "blend")[index % 2])
    errors: list[str] = []

    async def one(index: int, url: str) -> None:
        async with Client(url) as client:

            async def send(turn: int) -> CallToolResult:
                return await client.call_tool(
                    "feedback",
                    {
                        "conversation_id": f"conv-{index}",
                        "turn": turn,
                        "reward": float(turn % 2),
                        "idempotency_key": f"{index}-{turn}",
                    },
                )

            for turn in range(1, CALLS + 1):
                result = await send(turn)
                if result.is_error:
                    errors.append(str(result.content))
            for turn in range(1, 6):  # retries of calls already made: counted once
                again = await send(turn)
                assert again.structured_content and again.structured_content["duplicate"]

    env = home_env(tuner_settings.home_path, RATCHET_TUNER_PORT="0")
    with running("services.tuner", env) as tuner:
        assert httpx.get(f"{tuner.url}/healthz").status_code == 200
        async with Client(f"{tuner.url}/mcp") as client:
            initial = await call(client, "status")
        async with anyio.create_task_group() as group:
            for index in range(CLIENTS):
                group.start_soon(one, index, f"{tuner.url}/mcp")
        async with Client(f"{tuner.url}/mcp") as client:
            status = await settled(client)

    assert errors == []
    assert (status["feedback_total"], status["feedback_applied"], status["feedback_pending"]) == (
        2000,
        2000,
        0,
    )
    arms, prior = status["arms"], initial["arms"]
    gained = {
        name: (arms[name]["alpha"] - prior[name]["alpha"], arms[name]["beta"] - prior[name]["beta"])
        for name in arms
    }
    assert gained == {"centroid": (500, 500), "blend": (500, 500)}  # half of each rewarded
