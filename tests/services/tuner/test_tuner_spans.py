"""The feedback on a conversation is found from its route call in the telemetry.

Real processes, a Runner and a Tuner on one home with no OTLP endpoint, so
their spans go as JSON lines into the object store under ``telemetry/``. The
Tuner's span for each ``feedback`` call must name the same conversation and
turn (and the release that answered it) as the Runner's span for the route
call the feedback is about.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import Client

from ratchet.objects import open_object_store
from ratchet.telemetry.jsonl import TELEMETRY_PREFIX
from services.tuner.settings import TunerSettings
from tests.helpers.mcp import call
from tests.helpers.processes import home_env, running

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

# The wire names are what anyone querying the telemetry relies on: spelled out here.
CONVERSATION, TURN = "gen_ai.conversation.id", "ratchet.turn"
VERSION, REVISION = "ratchet.version", "ratchet.state_revision"


def tool_spans(settings: TunerSettings, service: str, tool: str) -> list[dict[str, Any]]:
    """Every exported span of ``service`` for calls of ``tool``, as its JSON record."""
    store = open_object_store(settings)
    records: list[dict[str, Any]] = []
    for key in store.list(f"{TELEMETRY_PREFIX}/traces/{service}/"):
        records.extend(json.loads(line) for line in store.get(key).data.decode().splitlines())
    return [r for r in records if r["name"] == f"tools/call {tool}"]


def about(span: dict[str, Any]) -> tuple[object, object]:
    """The (conversation id, turn) a span names; None where it names none."""
    return span["attributes"].get(CONVERSATION), span["attributes"].get(TURN)


async def test_feedback_spans_name_the_conversation_and_turn_of_the_route_call(
    project_home: TunerSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RATCHET_OTLP_ENDPOINT", raising=False)  # JSON lines, not a collector
    env = home_env(project_home.home_path, RATCHET_RUNNER_PORT="0", RATCHET_TUNER_PORT="0")
    with running("services.runner", env) as runner, running("services.tuner", env) as tuner:
        async with Client(f"{runner.url}/mcp") as client:
            first = await call(client, "route", text="my card still has not arrived")
            cid = first["conversation_id"]
            second = await call(client, "route", text="how do I activate it?", conversation_id=cid)
        async with Client(f"{tuner.url}/mcp") as client:
            malformed = await client.call_tool(
                "feedback", {"conversation_id": "bad id", "reward": 1}
            )
            unknown = await client.call_tool(
                "feedback", {"conversation_id": cid, "correct_intent": "pizza_order"}
            )
            latest = await call(client, "feedback", conversation_id=cid, reward=1.0)  # no turn
            earlier = await call(
                client, "feedback", conversation_id=cid, turn=1, correct_intent="card_arrival"
            )
    # Both processes have exited: their exporters flushed on the way out.
    assert malformed.is_error and "malformed conversation_id" in str(malformed.content)
    assert unknown.is_error and "unknown intent" in str(unknown.content)
    assert (first["turn"], second["turn"], latest["turn"], earlier["turn"]) == (1, 2, 2, 1)

    routes = {about(span): span for span in tool_spans(project_home, "runner", "route")}
    assert set(routes) == {(cid, 1), (cid, 2)}
    feedbacks = tool_spans(project_home, "tuner", "feedback")
    accepted = [span for span in feedbacks if span["status"]["status_code"] != "ERROR"]
    rejected = [span for span in feedbacks if span["status"]["status_code"] == "ERROR"]
    assert sorted(about(span) for span in accepted) == [(cid, 1), (cid, 2)]
    for span in accepted:
        route = routes[about(span)]  # the route call this feedback is about
        assert span["attributes"][VERSION] == route["attributes"][VERSION] == "v0.1.0"
        assert span["attributes"][REVISION] == route["attributes"][REVISION] == 0
    # A rejected call names its conversation when the id is well-formed, never otherwise.
    assert len(rejected) == 2 and {about(span) for span in rejected} == {(cid, None), (None, None)}
