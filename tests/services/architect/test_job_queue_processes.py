"""Two real Architect processes share one job queue in Postgres.

Each has its own home folder (worktrees and orphaned processes are per home) and
both use the same ``RATCHET_DATABASE_URL``. The jobs run a real pipeline on the
cheapest path there is: the ``command`` coder runs a shell line that logs which
Architect ran which job, naps, and changes nothing, so each job is rejected at
its coder stage after plan, worktree and coder (about a second). The lease is
cut to ``RATCHET_ARCHITECT_JOB_LEASE_S=3`` (a heartbeat every 0.75 s) so that the
job of the Architect SIGKILLed mid-job is taken back by the other within seconds.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.processes import Starting
from tests.services.architect.conftest import architect_settings, settings_env

pytestmark = pytest.mark.slow
JOBS = 20
LEASE_S = 3
# Logs "<architect> drain-NN" for the job in its prompt, then naps mid-job.
COMMAND = [
    "sh",
    "-c",
    'grep -o "drain-[0-9][0-9]" | head -n 1 | sed "s/^/$WHO /" >> "$RUNS_LOG"; sleep 0.6',
]


def architect_env(home: Path, url: str, who: str, runs: Path) -> dict[str, str]:
    return {
        **settings_env(architect_settings(home)),
        "RATCHET_DATABASE_URL": url,
        "RATCHET_ARCHITECT_TRIGGERER": "false",
        "RATCHET_ARCHITECT_CODER": "command",
        "RATCHET_ARCHITECT_COMMAND": json.dumps(COMMAND),
        "RATCHET_ARCHITECT_COMMAND_ENV": json.dumps({"WHO": who, "RUNS_LOG": str(runs)}),
        "RATCHET_ARCHITECT_JOB_LEASE_S": str(LEASE_S),
    }


def runs_of(log: Path) -> list[tuple[str, str]]:
    """(architect, job marker) per run of a coder, in the order they started."""
    if not log.exists():
        return []
    return [(line.split()[0], line.split()[1]) for line in log.read_text().splitlines() if line]


def wait_all_final(url: str, job_ids: list[str], timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        jobs = [httpx.get(f"{url}/jobs/{job_id}").json() for job_id in job_ids]
        if all(job["status"] in {"succeeded", "rejected", "failed"} for job in jobs):
            return jobs
        assert time.monotonic() < deadline, [(j["id"], j["status"]) for j in jobs]
        time.sleep(0.2)


def test_two_architects_drain_a_shared_queue_and_a_killed_ones_job_goes_to_the_other(
    tmp_path: Path, postgres_url: str
) -> None:
    runs = tmp_path / "runs.log"
    a = Starting("services.architect", architect_env(tmp_path / "a", postgres_url, "a", runs))
    b = Starting("services.architect", architect_env(tmp_path / "b", postgres_url, "b", runs))
    try:
        services = [a.ready(90), b.ready(90)]
        job_ids = []
        for number in range(JOBS):
            answer = httpx.post(
                f"{services[number % 2].url}/feedback", json={"text": f"drain-{number:02d}"}
            )
            assert answer.status_code == 202, answer.text
            job_ids.append(answer.json()["job_id"])
        # Kill a in the nap of a coder it starts from now on (one that started earlier
        # may be over by the time the log is first read).
        seen = sum(who == "a" for who, _ in runs_of(runs))
        deadline = time.monotonic() + 30
        while sum(who == "a" for who, _ in runs_of(runs)) == seen:
            assert time.monotonic() < deadline, "architect a ran no job in 30 s"
            time.sleep(0.02)
        a.process.kill()  # mid-job: its coder naps 0.6 s after logging
        killed_at = time.monotonic()
        killed = next(marker for who, marker in reversed(runs_of(runs)) if who == "a")
        jobs = wait_all_final(services[1].url, job_ids, timeout=60)
    finally:
        a.stop()
        b.stop()
    taken_back_after = time.monotonic() - killed_at
    starts = runs_of(runs)
    counts = Counter(marker for _, marker in starts)
    assert set(counts) == {f"drain-{n:02d}" for n in range(JOBS)}, starts
    assert {marker: n for marker, n in counts.items() if n != 1} == {killed: 2}, starts
    assert [who for who, marker in starts if marker == killed] == ["a", "b"], starts
    by_marker = {job["text"]: job for job in jobs}
    assert by_marker[killed]["attempts"] == 2
    assert {job["attempts"] for text, job in by_marker.items() if text != killed} == {1}
    assert {(job["status"], job["failed_stage"]) for job in jobs} == {("rejected", "coder")}
    assert taken_back_after >= LEASE_S - 1  # the lease ran out first (beats every 0.75 s)
