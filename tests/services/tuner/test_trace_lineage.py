"""One trace from a customer's message to the release that learned from it, in real processes.

A Runner, a Tuner (and a Versions API) on one home: a message routed through
the official MCP client, feedback on its answer given to the Tuner, the
feedback promoted into a patch. Then the Tuner's span for the feedback links
to the Runner's span for the route call, the patch's tag names the
conversation with that trace id, and the Versions API finds the patch from
the conversation. Once with spans as JSON lines in the object store, once
exported over OTLP/HTTP to a receiver process.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from ratchet.bootstrap import release_store
from services.tuner.settings import TunerSettings
from tests.helpers.mcp import call
from tests.helpers.processes import home_env, running
from tests.services.tuner.test_tuner_spans import tool_spans

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

# The wire names are what anyone querying the telemetry relies on: spelled out here.
CONVERSATION, TURN, LINK_KIND = "gen_ai.conversation.id", "ratchet.turn", "ratchet.link"


async def route_feedback_promote(runner: str, tuner: str) -> tuple[str, int, str]:
    """Route two messages, correct the second, promote; (conversation, turn, version)."""
    async with Client(f"{runner}/mcp") as client:
        first = await call(client, "route", text="my card still has not arrived")
        cid = first["conversation_id"]
        second = await call(client, "route", text="how do I activate it?", conversation_id=cid)
    async with Client(f"{tuner}/mcp") as client:
        await call(client, "feedback", conversation_id=cid, correct_intent="activate_my_card")
        promoted = await call(client, "promote")
    assert promoted["promoted"] is True, promoted
    return cid, second["turn"], promoted["version"]


def hex_id(value: str) -> str:
    """An id as the JSON-lines exporter writes it (``0x…``), as plain hex."""
    return value.removeprefix("0x")


async def test_the_feedback_links_to_the_route_call_and_the_release_names_it_json_lines(
    project_home: TunerSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RATCHET_OTLP_ENDPOINT", raising=False)  # JSON lines, not a collector
    env = home_env(
        project_home.home_path,
        RATCHET_RUNNER_PORT="0",
        RATCHET_TUNER_PORT="0",
        RATCHET_VERSIONS_PORT="0",
    )
    with running("services.runner", env) as runner, running("services.tuner", env) as tuner:
        cid, turn, version = await route_feedback_promote(runner.url, tuner.url)
    with running("services.versions", env) as versions:
        async with httpx.AsyncClient(base_url=versions.url) as http:
            found = (await http.get("/versions", params={"learned_from": cid})).json()
            learned = (await http.get(f"/versions/{version}/learned-from")).json()

    (route,) = [
        s for s in tool_spans(project_home, "runner", "route") if s["attributes"][TURN] == turn
    ]
    (feedback,) = tool_spans(project_home, "tuner", "feedback")
    (link,) = feedback["links"]
    assert link["context"]["trace_id"] == route["context"]["trace_id"]
    assert link["context"]["span_id"] == route["context"]["span_id"]
    assert link["attributes"] == {LINK_KIND: "route_call", CONVERSATION: cid, TURN: turn}
    assert feedback["context"]["trace_id"] != route["context"]["trace_id"]  # two traces, joined

    lineage = release_store(project_home).get(version).metadata.learned_from
    assert lineage is not None and lineage.conversations() == [cid]
    assert lineage.events[0].turn == turn
    assert lineage.events[0].trace_id == hex_id(route["context"]["trace_id"])
    assert [item["version"] for item in found["versions"]] == [version]
    assert learned["events"][0]["trace_id"] == hex_id(route["context"]["trace_id"])


async def test_the_link_arrives_at_an_otlp_http_receiver(
    project_home: TunerSettings, tmp_path: Path
) -> None:
    received = tmp_path / "spans.jsonl"
    with running("tests.helpers.otlp_receiver", {}, args=(str(received),)) as receiver:
        env = home_env(
            project_home.home_path,
            RATCHET_RUNNER_PORT="0",
            RATCHET_TUNER_PORT="0",
            RATCHET_OTLP_ENDPOINT=receiver.url,
        )
        with running("services.runner", env) as runner, running("services.tuner", env) as tuner:
            cid, turn, version = await route_feedback_promote(runner.url, tuner.url)
        # Both services have exited, flushing their exporters into the receiver.
    spans: list[dict[str, Any]] = [json.loads(line) for line in received.read_text().splitlines()]
    (route,) = [
        s for s in spans if s["name"] == "tools/call route" and s["attributes"].get(TURN) == turn
    ]
    (feedback,) = [s for s in spans if s["name"] == "tools/call feedback"]
    assert (route["service"], feedback["service"]) == ("ratchet-runner", "ratchet-tuner")
    (link,) = feedback["links"]
    assert (link["trace_id"], link["span_id"]) == (route["trace_id"], route["span_id"])
    assert link["attributes"] == {LINK_KIND: "route_call", CONVERSATION: cid, TURN: turn}
    lineage = release_store(project_home).get(version).metadata.learned_from
    assert lineage is not None and lineage.events[0].trace_id == route["trace_id"]
