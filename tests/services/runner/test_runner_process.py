"""The Runner as a real process on an ephemeral port, driven by the official MCP client."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from ratchet.bootstrap import release_store
from ratchet.promotion import release_state
from ratchet.state import open_state_manager
from ratchet.vcs import ReleaseKind
from services.runner.settings import RunnerSettings
from tests.conftest import PROJECT_ROOT
from tests.helpers.processes import home_env, running
from tests.services.runner.cases import messages

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

MESSAGES = messages(8)  # of the task the tree serves


def env(settings: RunnerSettings, **extra: str) -> dict[str, str]:
    return home_env(
        settings.home_path, RATCHET_RUNNER_PORT="0", RATCHET_RUNNER_POLL_INTERVAL="0.05", **extra
    )


async def test_tools_route_and_session_over_streamable_http(
    runner_settings: RunnerSettings, clear: dict[str, str]
) -> None:
    with running("services.runner", env(runner_settings)) as runner:
        async with Client(f"{runner.url}/mcp") as client:
            tools = [t.name for t in (await client.list_tools()).tools]
            answer = (await client.call_tool("route", {"text": clear["text"]})).structured_content
            assert answer is not None
            cid = answer["conversation_id"]
            session = await client.read_resource(f"session://{cid}")
        health = httpx.get(f"{runner.url}/healthz").json()
    assert tools == ["route"]
    assert answer["intent"] == clear["intent"] and answer["version"] == "v0.1.0"
    assert json.loads(session.contents[0].text)["turns"][0]["turn"] == 1  # type: ignore[union-attr]
    assert health == {"status": "ok", "version": "v0.1.0", "state_revision": 0}


async def test_a_token_protects_the_mcp_endpoint(runner_settings: RunnerSettings) -> None:
    with running("services.runner", env(runner_settings, RATCHET_TOKEN="s3cret")) as runner:
        refused = httpx.post(f"{runner.url}/mcp", json={})
        assert refused.status_code == 401
        # The SDK's HTTP client is httpx2 (its own fork of httpx).
        auth = httpx2.AsyncClient(headers={"Authorization": "Bearer s3cret"})

        async with Client(streamable_http_client(f"{runner.url}/mcp", http_client=auth)) as c:
            result = await c.call_tool("route", {"text": MESSAGES[1]})
    assert not result.is_error


async def test_eight_clients_and_a_promotion_under_load_lose_no_call(
    runner_settings: RunnerSettings,
) -> None:
    answers: list[tuple[float, float, dict[str, Any]]] = []  # (started, finished, answer)
    failures: list[str] = []
    promoted = anyio.Event()

    async def client_loop(index: int, url: str) -> None:
        async with Client(url) as client:
            conversation = None
            for call in range(60):
                started = time.monotonic()
                arguments: dict[str, Any] = {"text": MESSAGES[(index + call) % len(MESSAGES)]}
                if conversation:
                    arguments["conversation_id"] = conversation
                result = await client.call_tool("route", arguments)
                if result.is_error or result.structured_content is None:
                    failures.append(str(result.content))
                    continue
                conversation = result.structured_content["conversation_id"]
                answers.append((started, time.monotonic(), result.structured_content))
                if call == 20 and index == 0:
                    promoted.set()

    async def promote() -> None:
        await promoted.wait()
        manager = open_state_manager(runner_settings)
        staging = manager.update_staging(
            lambda d: {
                **d,
                "params": {
                    **d["params"],
                    "temperature": {**d["params"]["temperature"], "value": 0.04},
                },
            },
            actor="test",
        )
        await anyio.to_thread.run_sync(
            lambda: release_state(
                manager,
                release_store(runner_settings),
                staging,
                kind=ReleaseKind.PATCH,
                author="tuner",
                reason="promotion under load",
            )
        )

    with running("services.runner", env(runner_settings)) as runner:
        async with anyio.create_task_group() as group:
            for index in range(8):
                group.start_soon(client_loop, index, f"{runner.url}/mcp")
            group.start_soon(promote)

    assert failures == []
    assert len(answers) == 8 * 60
    new = [a for a in answers if a[2]["version"] == "v0.1.1"]
    assert new, "the swap never reached the Runner"
    first_new_finished = min(finished for _, finished, _ in new)
    late_old = [a for a in answers if a[0] > first_new_finished and a[2]["version"] == "v0.1.0"]
    assert late_old == []  # once an answer named the new revision, no later call used the old
    assert {a[2]["state_revision"] for a in new} == {1}


async def test_sessions_survive_a_restart(runner_settings: RunnerSettings) -> None:
    with running("services.runner", env(runner_settings)) as runner:
        async with Client(f"{runner.url}/mcp") as client:
            answer = (await client.call_tool("route", {"text": MESSAGES[2]})).structured_content
    assert answer is not None
    with running("services.runner", env(runner_settings)) as runner:
        async with Client(f"{runner.url}/mcp") as client:
            again = (
                await client.call_tool(
                    "route", {"text": MESSAGES[3], "conversation_id": answer["conversation_id"]}
                )
            ).structured_content
            session = await client.read_resource(f"session://{answer['conversation_id']}")
    assert again is not None and again["turn"] == 2
    turns = json.loads(session.contents[0].text)["turns"]  # type: ignore[union-attr]
    assert [t["text"] for t in turns] == [MESSAGES[2], MESSAGES[3]]


async def test_stdio_transport(runner_settings: RunnerSettings, clear: dict[str, str]) -> None:
    parameters = StdioServerParameters(
        command=sys.executable,
        args=["-m", "services.runner", "--stdio"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "RATCHET_HOME": str(runner_settings.home_path)},
    )
    async with Client(parameters) as client:
        result = await client.call_tool("route", {"text": clear["text"]})
    assert not result.is_error and result.structured_content is not None
    # This message routes the same under every arm (arms are sampled per conversation).
    assert result.structured_content["intent"] == clear["intent"]


INSPECTOR = "@modelcontextprotocol/inspector@2.12.0"


async def test_the_readme_inspector_command_works(
    runner_settings: RunnerSettings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The README's Inspector CLI line, run for real (npm installs the Inspector)."""
    npx = shutil.which("npx")
    if npx is None:
        pytest.skip("npx is not installed on this machine")
    assert "npx @modelcontextprotocol/inspector --cli" in (PROJECT_ROOT / "README.md").read_text()
    cache = tmp_path_factory.mktemp("npm-cache")
    with running("services.runner", env(runner_settings)) as runner:
        result = await anyio.to_thread.run_sync(
            lambda: subprocess.run(
                [
                    npx,
                    "--yes",
                    INSPECTOR,
                    "--cli",
                    f"{runner.url}/mcp",
                    "--method",
                    "tools/call",
                    "--tool-name",
                    "route",
                    "--tool-arg",
                    f"text={MESSAGES[0]}",
                ],
                capture_output=True,
                text=True,
                timeout=400,
                env={**os.environ, "npm_config_cache": str(cache)},
            )
        )
    assert result.returncode == 0, result.stderr[-2000:]
    answer = json.loads(result.stdout)
    assert answer["isError"] is False
    assert answer["structuredContent"]["version"] == "v0.1.0"
    assert answer["structuredContent"]["turn"] == 1


async def test_metrics_endpoint_summarises_the_audit_window(
    runner_settings: RunnerSettings,
) -> None:
    with running("services.runner", env(runner_settings)) as runner:
        async with Client(f"{runner.url}/mcp") as client:
            for text in MESSAGES[:3]:
                await client.call_tool("route", {"text": text})
            await client.call_tool("route", {"text": " "})
        window = httpx.get(f"{runner.url}/metrics", params={"window": "60"})
        counted = [
            httpx.get(f"{runner.url}/metrics", params={"window": "60", "slow_ms": ms}).json()
            for ms in ("0.0001", "1e8")
        ]
        bad = [httpx.get(f"{runner.url}/metrics", params={"window": w}) for w in ("x", "-1", "1e9")]
        bad_slow = [
            httpx.get(f"{runner.url}/metrics", params={"window": "60", "slow_ms": ms})
            for ms in ("x", "0")
        ]
    body = window.json()
    assert (body["calls"], body["errors"], body["rejected"]) == (4, 0, 1)
    assert body["error_rate"] == 0 and body["p50_ms"] > 0 and body["version"] == "v0.1.0"
    assert [r.status_code for r in bad] == [400, 400, 400]
    assert all("window" in r.json()["detail"] for r in bad)
    assert body["slow"] is None  # counted only when a threshold is asked for
    assert [c["slow"] for c in counted] == [3, 0]  # the 3 served calls; the rejected one is not
    assert [r.status_code for r in bad_slow] == [400, 400]
