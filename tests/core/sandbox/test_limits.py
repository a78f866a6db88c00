"""The sandbox's limits: processes, disk; each named as the reason it stopped a run."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from ratchet.ci.children import run
from ratchet.sandbox import cgroups, confine
from ratchet.sandbox.volume import disk_watch, usage
from tests.core.sandbox.conftest import requires_bwrap

FORK_BOMB = r"""
import os, time
children = 0
while True:
    try:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        children += 1
    except OSError:
        print(children, flush=True)
        os._exit(0)
"""


@requires_bwrap
def test_a_fork_bomb_stops_at_the_process_limit_with_the_reason(tree: Path) -> None:
    if not cgroups.available():
        pytest.skip("no writable pids cgroup here: no process count is held")
    done = run(
        [sys.executable, "-c", FORK_BOMB],
        confinement=confine(tree, max_processes=32),
        capture_output=True,
        text=True,
        timeout=60,
    )
    forked = int(done.stdout.split()[0])
    assert 0 < forked < 32  # bubblewrap and the bomb itself count too
    assert done.violation is not None and "process limit (32" in done.violation


def test_the_disk_watch_trips_past_its_quota(tmp_path: Path) -> None:
    tripped: list[bool] = []
    watch = disk_watch([tmp_path], 1, lambda: tripped.append(True))
    try:
        (tmp_path / "big").write_bytes(b"\1" * (2 * 1024 * 1024))
        deadline = time.monotonic() + 10
        while not watch.tripped and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        watch.stop()
    assert watch.tripped and tripped == [True]
    assert usage(tmp_path) >= 2 * 1024 * 1024


FILL = r"""
import os
n = 0
while True:
    with open(os.path.join(os.environ["TMPDIR"], f"fill-{n}"), "wb") as handle:
        handle.write(b"\1" * (1024 * 1024))
    n += 1
"""


@requires_bwrap
def test_a_process_filling_its_volume_is_killed_with_the_reason(tree: Path) -> None:
    done = run(
        [sys.executable, "-c", FILL],
        confinement=confine(tree, disk_mb=16),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert done.violation is not None and "disk quota (16 MB)" in done.violation
