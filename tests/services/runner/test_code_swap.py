"""A release that changes the Runner's code replaces the serving code, under load,
without a failed call; code that cannot load leaves the old version serving."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest
from mcp import Client

from ratchet.vcs import Release
from services.runner.settings import RunnerSettings
from tests.helpers.processes import home_env, running
from tests.helpers.releases import release_paths
from tests.services.runner.cases import messages

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ROUTER = "services/runner/agent/router.py"
MESSAGE = messages(1)[0]  # a message of the task the tree serves


def release_code(settings: RunnerSettings, old: str, new: str, reason: str) -> Release:
    """What the Architect does for a code change: commit, tag minor, move the pointer."""
    path = settings.workspace_path / ROUTER
    source = path.read_text()
    assert old in source
    path.write_text(source.replace(old, new))
    return release_paths(settings, [ROUTER], reason)


async def load(
    url: str,
    clients: int,
    calls: int,
    trigger: anyio.Event,
    record: list[tuple[float, float, dict[str, Any]]],
    failures: list[str],
) -> None:
    async def one(index: int) -> None:
        async with Client(url) as client:
            for call in range(calls):
                started = time.monotonic()
                result = await client.call_tool("route", {"text": f"{MESSAGE} {index}"})
                if result.is_error or result.structured_content is None:
                    failures.append(str(result.content))
                else:
                    record.append((started, time.monotonic(), result.structured_content))
                if index == 0 and call == calls // 4:
                    trigger.set()
                await anyio.sleep(0.005)

    async with anyio.create_task_group() as group:
        for index in range(clients):
            group.start_soon(one, index)


async def test_new_code_replaces_old_under_load(runner_settings: RunnerSettings) -> None:
    record: list[tuple[float, float, dict[str, Any]]] = []
    failures: list[str] = []
    trigger = anyio.Event()

    async def release_when_triggered() -> None:
        await trigger.wait()
        await anyio.to_thread.run_sync(
            release_code, runner_settings, "TOP_K = 3", "TOP_K = 4", "four alternatives"
        )

    env = home_env(
        runner_settings.home_path, RATCHET_RUNNER_PORT="0", RATCHET_RUNNER_POLL_INTERVAL="0.05"
    )
    with running("services.runner", env) as runner:
        async with anyio.create_task_group() as group:
            group.start_soon(load, f"{runner.url}/mcp", 8, 120, trigger, record, failures)
            group.start_soon(release_when_triggered)

    assert failures == []
    assert len(record) == 8 * 120
    new = [r for r in record if r[2]["version"] == "v0.2.0"]
    assert new, "the new code never served"
    assert all(len(r[2]["alternatives"]) == 4 for r in new)  # the new code answered
    assert all(len(r[2]["alternatives"]) == 3 for r in record if r[2]["version"] == "v0.1.0")
    first_new = min(finished for _, finished, _ in new)
    assert [r for r in record if r[0] > first_new and r[2]["version"] == "v0.1.0"] == []


async def test_code_that_cannot_load_leaves_the_old_version_serving(
    runner_settings: RunnerSettings,
) -> None:
    env = home_env(
        runner_settings.home_path, RATCHET_RUNNER_PORT="0", RATCHET_RUNNER_POLL_INTERVAL="0.05"
    )
    with running("services.runner", env) as runner:
        release_code(runner_settings, "TOP_K = 3", "TOP_K = (", "a syntax error")
        deadline = time.monotonic() + 30
        async with Client(f"{runner.url}/mcp") as client:
            while time.monotonic() < deadline:  # until the follower has tried and refused
                if any("cannot serve the code of v0.2.0" in line for line in runner.output):
                    break
                await anyio.sleep(0.05)
            result = await client.call_tool("route", {"text": MESSAGE})
    assert any("cannot serve the code of v0.2.0" in line for line in runner.output)
    assert not result.is_error and result.structured_content is not None
    assert result.structured_content["version"] == "v0.1.0"
