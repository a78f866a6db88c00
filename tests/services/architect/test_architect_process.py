"""The Architect as a real process: HTTP intake, a Runner serving the release, SIGKILLs."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client

from ratchet.bootstrap import release_store
from ratchet.objects import open_object_store
from ratchet.state import open_state_manager
from services.architect.settings import ArchitectSettings
from tests.helpers.mcp import call
from tests.helpers.processes import running
from tests.services.architect.conftest import architect_settings, good_patch, settings_env

# alone: its job's full tier judges the candidate's p95 latency.
pytestmark = [pytest.mark.slow, pytest.mark.anyio, pytest.mark.alone]
FINAL = {"succeeded", "rejected", "failed"}
JSON = {"content-type": "application/json"}


def wait_final(url: str, job_id: str, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = httpx.get(f"{url}/jobs/{job_id}").json()
        if job["status"] in FINAL:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} not final after {timeout} s")


def consistent(settings: ArchitectSettings) -> list[str]:
    """Every architect tag has its eval summary; the pointer names a tag at its commit."""
    objects = open_object_store(settings)
    releases = release_store(settings).releases()
    for release in releases:
        if release.metadata.author == "architect":
            assert objects.exists(f"evals/{release.commit}/summary.json"), release.version
    pointer = open_state_manager(settings).pointer()
    assert pointer is not None
    assert pointer.commit == {r.version: r.commit for r in releases}[pointer.version]
    return sorted(r.version for r in releases)


async def served_tools(url: str) -> set[str]:
    async with Client(f"{url}/mcp") as client:
        return {t.name for t in (await client.list_tools()).tools}


def intake(url: str, text: str, patch: str | None) -> str:
    body = {"text": text} if patch is None else {"text": text, "patch": patch}
    answer = httpx.post(f"{url}/feedback", json=body)
    assert answer.status_code == 202, answer.text
    job_id: str = answer.json()["job_id"]
    return job_id


async def test_jobs_survive_repeated_sigkill_and_the_runner_serves_the_release(
    tmp_path: Path,
) -> None:
    """Kill the Architect at several points of a job, restart it each time: every tag
    has its summary throughout, every job ends final, and the Runner (a real process
    following the pointer) serves the released code."""
    settings = architect_settings(tmp_path / "home")
    env = {**settings_env(settings), "RATCHET_ARCHITECT_MAX_ATTEMPTS": "20"}
    patch = good_patch(settings.workspace_path)
    job_ids: list[str] = []
    with running("services.runner", {**env, "RATCHET_RUNNER_PORT": "0"}) as runner:
        assert "serving_version" not in await served_tools(runner.url)
        # Seconds after each (re)start to kill at: the early stages, the tiers, the compare.
        for index, after in enumerate((0.5, 5.0, 10.0)):
            with running("services.architect", env) as architect:
                if index == 0:
                    job_ids.append(intake(architect.url, "say the version", patch))
                    job_ids.append(intake(architect.url, "be smarter", None))  # no diff: template
                time.sleep(after)
                architect.process.kill()
                architect.process.wait()
            consistent(settings)
        with running("services.architect", env) as architect:
            jobs = [wait_final(architect.url, job_id) for job_id in job_ids]
            bad = httpx.post(f"{architect.url}/feedback", content=b"{", headers=JSON)
            assert (bad.status_code, bad.json()["detail"][:14]) == (400, "malformed JSON")
            huge = httpx.post(f"{architect.url}/feedback", json={"text": "x" * 2_000_000})
            assert huge.status_code == 413 and "over the limit" in huge.json()["detail"]
        assert [j["status"] for j in jobs] == ["succeeded", "rejected"], [j["reason"] for j in jobs]
        assert jobs[0]["attempts"] >= 2 and "no template in examples/ matches" in jobs[1]["reason"]
        timings = {s["name"]: s["seconds"] for s in jobs[0]["stages"]}
        print("stage timings of the last run:", json.dumps(timings))
        assert consistent(settings) == ["v0.1.0", jobs[0]["version"]]
        async with Client(f"{runner.url}/mcp") as client:
            deadline = time.monotonic() + 60
            while "serving_version" not in await served_tools(runner.url):
                assert time.monotonic() < deadline, "the Runner never served the release"
                await anyio.sleep(0.2)
            result = await client.call_tool("serving_version", {})
            assert not result.is_error, result.content
            routed = await call(client, "route", text="my card has not arrived")
            assert routed["version"] == jobs[0]["version"]
