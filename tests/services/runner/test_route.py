"""The Runner over MCP in-process (the SDK's in-memory client): contract and bad input."""

from __future__ import annotations

import functools
import json
from typing import Any

import anyio
import pytest
from mcp import Client, MCPError
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr

from ratchet import datasets
from ratchet.bootstrap import release_store
from ratchet.objects import open_object_store
from ratchet.promotion import release_state
from ratchet.state import open_state_manager
from ratchet.vcs import ReleaseKind
from services.runner.app import build_server
from services.runner.runtime import RunnerRuntime
from services.runner.settings import RunnerSettings
from tests.conftest import PROJECT_ROOT
from tests.services.runner.cases import clear_case, messages

pytestmark = pytest.mark.anyio


async def route(client: Client, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool("route", arguments)
    assert not result.is_error, result.content
    content: dict[str, Any] | None = result.structured_content
    assert content is not None
    return content


async def test_route_tool_is_listed_with_input_and_output_schemas(runtime: RunnerRuntime) -> None:
    async with Client(build_server(runtime)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    schema = tools["route"]
    assert schema.input_schema["required"] == ["text"]
    assert set(schema.output_schema["properties"]) >= {  # type: ignore[index]
        "intent",
        "confidence",
        "alternatives",
        "reply",
        "conversation_id",
        "turn",
        "version",
        "state_revision",
    }


async def test_the_server_describes_the_task_it_serves(runtime: RunnerRuntime) -> None:
    task = datasets.task(PROJECT_ROOT)
    async with Client(build_server(runtime)) as client:
        said = client.instructions
    assert said is not None
    assert f"one of the {len(task.labels)} intents of task {task.name}" in said
    assert task.manifest.description in said


async def test_route_answers_and_numbers_the_turns(runtime: RunnerRuntime) -> None:
    case = clear_case(runtime.served.router)
    async with Client(build_server(runtime)) as client:
        first = await route(client, text=case["text"])
        second = await route(client, text=messages(2)[1], conversation_id=first["conversation_id"])
    assert first["intent"] == case["intent"]
    assert len(first["alternatives"]) == 3
    assert first["alternatives"][0]["intent"] == case["intent"]
    assert 0 < first["confidence"] <= 1
    assert first["reply"] and first["reply_id"].startswith(f"{case['intent']}.")
    assert (first["turn"], second["turn"]) == (1, 2)
    # The home's first release serves the committed state at the revision it carries (0 in
    # the project; a candidate's tree carries its tuned state's, since the fast tier runs
    # this suite on every candidate).
    assert first["version"] == "v0.1.0"
    assert first["state_revision"] == runtime.served.revision
    assert second["arm"] == first["arm"]  # one arm per conversation


async def test_a_client_supplied_conversation_id_starts_a_conversation(
    runtime: RunnerRuntime,
) -> None:
    async with Client(build_server(runtime)) as client:
        text = messages(1)[0]
        answer = await route(client, text=text, conversation_id="chat-42")
        session = await client.read_resource("session://chat-42")
    assert answer["conversation_id"] == "chat-42" and answer["turn"] == 1
    assert json.loads(session.contents[0].text)["turns"][0]["text"] == text  # type: ignore[union-attr]


async def test_session_resource_lists_turns_with_feedback(runtime: RunnerRuntime) -> None:
    correct = datasets.labels(PROJECT_ROOT)[-1]
    async with Client(build_server(runtime)) as client:
        answer = await route(client, text=messages(3)[2])
        cid = answer["conversation_id"]
        runtime.sessions.record_feedback(
            cid,
            1,
            correct_intent=correct,
            reward=None,
            idempotency_key="k1",
            source="test",
        )
        contents = (await client.read_resource(f"session://{cid}")).contents
    session = json.loads(contents[0].text)  # type: ignore[union-attr]
    (turn,) = session["turns"]
    assert turn["intent"] == answer["intent"] and turn["version"] == "v0.1.0"
    assert turn["feedback"][0]["correct_intent"] == correct


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"text": ""}, "text is empty"),
        ({"text": "   \n\t"}, "text is empty"),
        ({"text": "x" * 2001}, "the limit is 2000"),
        ({"text": "hi", "conversation_id": "has spaces"}, "conversation_id is malformed"),
        ({"text": "hi", "conversation_id": "x" * 200}, "conversation_id is malformed"),
        ({"text": 42}, "valid string"),
        ({}, "text"),
    ],
)
async def test_bad_input_is_a_clear_tool_error(
    runtime: RunnerRuntime, arguments: dict[str, Any], message: str
) -> None:
    async with Client(build_server(runtime)) as client:
        result = await client.call_tool("route", arguments)
        assert result.is_error
        assert message in result.content[0].text  # type: ignore[union-attr]
        assert (await route(client, text="still serving?"))["turn"] == 1  # and keeps serving


async def test_unknown_or_malformed_sessions_are_errors(runtime: RunnerRuntime) -> None:
    async with Client(build_server(runtime)) as client:
        with pytest.raises(MCPError, match="no conversation 'never-seen'"):
            await client.read_resource("session://never-seen")
        with pytest.raises(MCPError, match="malformed conversation id"):
            await client.read_resource("session://bad%20id")


async def test_every_call_leaves_an_audit_record(runtime: RunnerRuntime) -> None:
    async with Client(build_server(runtime)) as client:
        answer = await route(client, text=messages(4)[3])
        await client.call_tool("route", {"text": ""})
    stats = runtime.audit.window(60, tool="route")
    assert (stats.calls, stats.rejected, stats.errors) == (2, 1, 0)
    with runtime.audit.db.read() as tx:
        rows = tx.all(
            "SELECT conversation_id, turn, version, state_revision, outcome FROM calls ORDER BY id"
        )
    assert tuple(rows[0]) == (
        answer["conversation_id"],
        1,
        "v0.1.0",
        answer["state_revision"],
        "ok",
    )


async def test_a_promotion_swaps_state_and_answers_name_the_new_revision(
    runtime: RunnerRuntime,
) -> None:
    manager = runtime.manager
    staging = manager.update_staging(
        lambda data: {**data, "strategy": {**data["strategy"], "explore": False}}, actor="test"
    )
    release = release_state(
        manager,
        release_store(runtime.settings),
        staging,
        kind=ReleaseKind.PATCH,
        author="tuner",
        reason="test promotion",
    )
    # Same manager: the move is heard at once (another process hears it on its next poll).
    async with Client(build_server(runtime)) as client:
        answer = await route(client, text=messages(5)[4])
    assert (answer["version"], answer["state_revision"]) == (release.version, staging.revision)
    assert release.version == "v0.1.1" and runtime.swaps == 1
    assert runtime.factory.trainings <= 1  # the state change needed no retraining


async def test_an_unservable_state_keeps_the_old_one(runtime: RunnerRuntime) -> None:
    staging = runtime.manager.update_staging(
        lambda d: {**d, "strategy": {"arms": {}}}, actor="test"
    )
    release_state(
        runtime.manager,
        release_store(runtime.settings),
        staging,
        kind=ReleaseKind.PATCH,
        author="tuner",
        reason="broken",
    )
    runtime.manager.poll()
    assert runtime.served.version == "v0.1.0"


async def test_each_call_is_a_span_with_mcp_and_conversation_attributes(
    runtime: RunnerRuntime, spans: InMemorySpanExporter
) -> None:
    spans.clear()
    async with Client(build_server(runtime)) as client:
        answer = await route(client, text=messages(6)[5], conversation_id="span-1")
    calls = [s for s in spans.get_finished_spans() if s.name == "tools/call route"]
    assert calls, "no span: was the global tracer provider set elsewhere first?"
    attributes = dict(calls[-1].attributes or {})
    assert attributes["gen_ai.conversation.id"] == "span-1"
    assert attributes["ratchet.turn"] == answer["turn"] == 1
    assert attributes["mcp.method.name"] == "tools/call"
    assert attributes["ratchet.version"] == answer["version"]
    assert attributes["ratchet.outcome"] == "ok"


async def test_turns_and_audit_rows_are_recorded_on_either_engine(
    runner_settings: RunnerSettings, database_url: str | None
) -> None:
    """On SQLite the records are written on the event loop, on Postgres in the call's
    worker thread (route.RouteTool.answer): both number a conversation's turns and
    audit every call, concurrent calls included."""
    settings = runner_settings.model_copy(
        update={"database_url": None if database_url is None else SecretStr(database_url)}
    )
    runtime = RunnerRuntime(settings, open_state_manager(settings), open_object_store(settings))
    try:
        text = messages(1)[0]
        async with Client(build_server(runtime)) as client:
            first = await route(client, text=text)
            cid = first["conversation_id"]
            async with anyio.create_task_group() as group:
                for _ in range(4):
                    group.start_soon(functools.partial(route, client, text=text))
            second = await route(client, text=text, conversation_id=cid)
        assert (first["turn"], second["turn"]) == (1, 2)
        assert runtime.sessions.db.dialect == ("sqlite" if database_url is None else "postgres")
        assert runtime.audit.count() == 6
    finally:
        runtime.stop()
