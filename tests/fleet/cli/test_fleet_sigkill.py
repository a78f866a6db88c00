"""SIGKILL under ``ratchet up``: each service is restarted and the fleet keeps serving.

Real processes: ``ratchet up`` supervises the four services; each is killed
in turn (the Tuner while a ``promote`` is in flight). After every kill the
supervisor restarts it at the same URL, the Runner answers ``route`` through
the official MCP client, the Versions API answers, ``ratchet status`` reports
every service up, and no release is half-made.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client
from typer.testing import CliRunner

from fleet.cli.main import app
from fleet.demo import Fleet, running_fleet
from fleet.demo.traffic import call
from fleet.supervisor import SERVICE_ORDER
from ratchet.bootstrap import release_store, state_at
from ratchet.config import CommonSettings
from ratchet.state import open_state_manager
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow


def service_pid(fleet: Fleet, name: str) -> int | None:
    """The pid of the supervisor's child running ``services.<name>``."""
    pid = fleet.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for child in children:
        try:
            argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            continue
        if f"services.{name}".encode() in argv:
            return int(child)
    return None


def restarted(fleet: Fleet, name: str, old_pid: int, timeout: float = 120.0) -> int:
    """Wait until another process serves ``name`` healthy at the same URL; its pid."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = service_pid(fleet, name)
        if pid is not None and pid != old_pid:
            try:
                if httpx.get(f"{fleet.url(name)}/healthz", timeout=2).status_code == 200:
                    return pid
            except httpx.HTTPError:
                pass
        time.sleep(0.1)
    raise AssertionError(f"{name} was not restarted within {timeout:.0f} s")


async def route_once(runner: str) -> dict[str, object]:
    async with Client(f"{runner}/mcp") as client:
        return await call(client, "route", text="my card still has not arrived")


async def feedback_and_promote(runner: str, tuner: str, promoting: threading.Event) -> None:
    answer = await route_once(runner)
    async with Client(f"{tuner}/mcp") as client:
        await call(client, "feedback", conversation_id=answer["conversation_id"], reward=1.0)
        promoting.set()
        await client.call_tool("promote", {})  # killed mid-way, or done: both are fine


def assert_no_half_made_release(settings: CommonSettings) -> list[str]:
    """Every tag carries its committed state; the pointer names a tag at that tag's commit."""
    releases = release_store(settings).releases()
    for release in releases:
        state = state_at(settings.workspace_path, release.commit)
        assert state.content_hash() == release.metadata.state_hash, release.version
    pointer = open_state_manager(settings).pointer()
    assert pointer is not None
    assert pointer.commit == {r.version: r.commit for r in releases}[pointer.version]
    return [r.version for r in releases]


def test_sigkill_each_service_it_restarts_and_the_fleet_keeps_serving(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {
        **{f"RATCHET_{s.upper()}_PORT": "0" for s in SERVICE_ORDER},
        "RATCHET_PROJECT_ROOT": str(PROJECT_ROOT),
    }
    settings = CommonSettings(home=home)
    cli_env = {**env, "RATCHET_HOME": str(home)}
    with running_fleet(home, env) as fleet:
        urls = dict(fleet.urls)
        for name in SERVICE_ORDER:
            pid = service_pid(fleet, name)
            assert pid is not None, name
            if name == "tuner":  # a promote in flight when the Tuner dies
                sent = threading.Event()
                promoting = threading.Thread(
                    target=promote_quietly, args=(fleet.url("runner"), fleet.url("tuner"), sent)
                )
                promoting.start()
                assert sent.wait(60)  # the promote is on its way: the kill may land anywhere in it
            os.kill(pid, signal.SIGKILL)
            new_pid = restarted(fleet, name, pid)
            assert new_pid != pid
            if name == "tuner":
                promoting.join(60)
            # the fleet serves: the Runner routes over MCP, the Versions API lists releases
            answer = anyio.run(route_once, fleet.url("runner"))
            assert answer["intent"] and str(answer["version"]).startswith("v0.1.")
            listed = httpx.get(f"{fleet.url('versions')}/versions", timeout=10).json()
            assert "v0.1.0" in [v["version"] for v in listed["versions"]]
            status = CliRunner().invoke(app, ["status", "--json"], env=cli_env)
            assert status.exit_code == 0, status.output
            report = json.loads(status.output)
            assert all(s["healthy"] for s in report["services"].values()), report
            assert {n: s["url"] for n, s in report["services"].items()} == urls  # same URLs
            assert_no_half_made_release(settings)
        log = (home / "logs" / "up.log").read_text()
        assert all(f"{name} exited with -9" in log for name in SERVICE_ORDER), log[-2000:]
    assert fleet.process.returncode == 0
    assert "v0.1.0" in assert_no_half_made_release(settings)


def promote_quietly(runner: str, tuner: str, promoting: threading.Event) -> None:
    """A promote whose Tuner may be killed under it: its failure is expected."""
    with contextlib.suppress(Exception):
        anyio.run(feedback_and_promote, runner, tuner, promoting)
