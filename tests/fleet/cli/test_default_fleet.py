"""A new user's fleet: `ratchet up` with every setting at its default releases Architect jobs.

No ``RATCHET_*`` variable but the home folder: the default ports, coder,
fast-tier unit tests, full-tier clients and held-out split. Through the
command line a user types, a patch job (a diff adding a note) and a template
job (feedback in words) are each released as a minor version the Runner then
serves. The Architect's own tests run the fast tier with no unit tests, for
speed; this one runs the default paths, as a new user's fleet does.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client

from fleet.demo import running_fleet
from ratchet import datasets
from ratchet.datasets import Example
from services.architect.settings import ArchitectSettings
from services.runner.settings import RunnerSettings
from services.tuner.settings import TunerSettings
from services.versions.settings import VersionsSettings
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow

NOTE_DIFF = """\
--- /dev/null
+++ b/services/runner/NOTE.md
@@ -0,0 +1,3 @@
+# The Runner
+
+Routes customer-support messages to intents over MCP.
"""
FINAL = {"succeeded", "rejected", "failed"}


def default_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("RATCHET_")]:
        monkeypatch.delenv(name)


def free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cli(home: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "fleet.cli.main", *args],
        env={**os.environ, "RATCHET_HOME": str(home), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def job_id_of(output: str) -> str:
    words = output.split()
    return words[words.index("job") + 1]


def finished(architect: str, job_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = httpx.get(f"{architect}/jobs/{job_id}", timeout=10).json()
        if job["status"] in FINAL:
            return job
        time.sleep(1)  # polling a job that takes minutes, not waiting for readiness
    raise AssertionError(f"job {job_id} not final after {timeout:.0f} s")


def served_versions(runner: str) -> list[str]:
    """The versions the Runner names for three new conversations."""

    async def route() -> str:
        async with Client(f"{runner}/mcp") as client:
            result = await client.call_tool("route", {"text": "my card has not arrived"})
            version: str = (result.structured_content or {})["version"]
            return version

    return [anyio.run(route) for _ in range(3)]


def served_accuracy(runner: str, examples: list[Example]) -> float:
    """Held-out messages routed as a client would: each a new conversation."""

    async def run() -> int:
        right = 0
        async with Client(f"{runner}/mcp") as client:
            for example in examples:
                result = await client.call_tool("route", {"text": example.text})
                right += (result.structured_content or {}).get("intent") == example.intent
        return right

    return anyio.run(run) / len(examples)


def reasons(job: dict[str, Any]) -> str:
    stages = [f"{s['name']} {s['status']}: {(s['log'] or '')[-400:]}" for s in job["stages"]]
    return f"{job['status']}: {job.get('reason')}\n" + "\n".join(stages)


@pytest.mark.timeout(2400)  # two jobs through every tier
@pytest.mark.alone  # the full tier judges p95 latency
def test_a_default_fleet_releases_a_patch_job_and_a_template_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    default_env(monkeypatch)
    defaults = {
        cls.service_name: cls.model_fields["port"].default
        for cls in (RunnerSettings, TunerSettings, ArchitectSettings, VersionsSettings)
    }
    busy = [port for port in defaults.values() if not free(port)]
    assert not busy, f"the default ports {busy} are taken: stop what listens there"
    home = tmp_path / "home"
    note = tmp_path / "note.diff"
    note.write_text(NOTE_DIFF)

    with running_fleet(home) as fleet:
        assert fleet.url("architect").endswith(f":{defaults['architect']}")
        architect, runner = fleet.url("architect"), fleet.url("runner")

        patch_job = finished(
            architect,
            job_id_of(cli(home, "feedback", "document the runner", "--patch", str(note))),
            900,
        )
        assert patch_job["status"] == "succeeded", reasons(patch_job)
        assert patch_job["version"] == "v0.2.0"
        fast = next(s for s in patch_job["stages"] if s["name"] == "fast")
        assert re.search(r"\d+ passed", fast["log"]), fast["log"]  # the default unit tests ran
        # Progressive delivery, the default: the release is a canary until live feedback
        # or a person decides; with no traffic here, a person promotes it.
        assert "canary v0.2.0 beside stable v0.1.0" in cli(home, "rollout", "status")
        assert "promoted" in cli(home, "rollout", "promote", "--reason", "a note only")

        words = "messages with typos and misspellings should reach the right intent"
        template_job = finished(architect, job_id_of(cli(home, "feedback", words)), 1500)
        assert template_job["status"] == "succeeded", reasons(template_job)
        assert template_job["version"] == "v0.3.0"
        assert "promoted" in cli(home, "rollout", "promote", "--reason", "measured offline")

        deadline = time.monotonic() + 60
        while (seen := served_versions(runner)) != ["v0.3.0"] * 3:
            assert time.monotonic() < deadline, seen
            time.sleep(0.5)  # the Runner follows the pointer on its poll
        assert "v0.3.0" in cli(home, "versions")

        # What the release claims is what a client is served, within the exploring share's
        # noise, and that is within the exploration budget of its best arm.
        claimed = httpx.get(f"{fleet.url('versions')}/versions/v0.3.0/evals").json()["kpis"]
        got = served_accuracy(runner, list(datasets.load(PROJECT_ROOT, "heldout")))
        assert abs(got - claimed["heldout_accuracy"]) <= 0.003, (got, claimed)
        assert claimed["heldout_best_arm_accuracy"] - got <= 0.003 + 0.002, (got, claimed)
        print(f"\nv0.3.0 served {got:.4f}; claimed {claimed}")
