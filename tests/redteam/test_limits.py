"""Exhausting the machine from a unit test: a fork bomb, filling the disk (with bytes,
with empty files, with one huge file), and sleeping past the tier's time with a
daemon left behind. Each is stopped by the fast tier with the rule that stopped it
in the report's reason, within seconds, and nothing of it is left running."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from ratchet.ci.fast import run_fast
from ratchet.ci.processes import pids
from ratchet.ci.report import TierReport
from ratchet.sandbox import memory
from ratchet.state import StateDocument
from tests.conftest import PROJECT_ROOT
from tests.redteam.attacks import ATTACK, TESTS, Ground, sandbox_mode

STATE = StateDocument.from_file_bytes(
    "state", (PROJECT_ROOT / "state" / "active.state.json").read_bytes()
)

FORK_BOMB = """\
import os


def test_the_router_loads():
    while True:
        try:
            os.fork()
        except OSError:
            pass
"""

FILL_DISK = """\
import itertools, os


def test_the_router_loads():
    chunk = b"x" * (4 << 20)
    for index in itertools.count():
        with open(os.path.join(os.environ["TMPDIR"], f"fill-{index}"), "wb") as handle:
            handle.write(chunk)
"""

EMPTY_FILES = """\
import itertools, os


def test_the_router_loads():
    for index in itertools.count():
        open(os.path.join(os.environ["TMPDIR"], f"empty-{index}"), "w").close()
"""

HUGE_FILE = """\
import os, signal


def test_the_router_loads():
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # a C program's default: killed
    with open(os.path.join(os.environ["TMPDIR"], "huge"), "wb") as handle:
        handle.seek(3 << 30)  # past the 2 GB a file may hold, without writing 3 GB
        handle.write(b"x")
"""

MEMORY_FILES = """\
import errno, json, os, pathlib


def _fill(folder, most_mb=100):
    written = 0
    try:
        for index in range(most_mb):
            with open(os.path.join(folder, f"fill-{index}"), "wb") as handle:
                handle.write(b"x" * (1 << 20))
            written += 1
    except OSError as exc:
        return written, errno.errorcode.get(exc.errno, str(exc.errno))
    return written, "no limit"


def test_the_router_loads():
    places = ["/", "/dev", "/dev/shm", "/tmp"]
    loot = {place: _fill(place) for place in places}
    (pathlib.Path(os.environ["HOME"]) / "loot.json").write_text(json.dumps(loot))
"""

ONE_BIG_ALLOCATION = """\
def test_the_router_loads():
    hoard = bytearray(3 << 30)  # over the fast tier's 2048 MB
"""

# Three processes, 1 GB each, held at once: 3 GB, over the tier's 2048 MB.
MANY_ALLOCATIONS = """\
import json, os, pathlib, subprocess, sys

HOLD = "import sys, time; hoard = bytearray(1 << 30); print('held', flush=True); time.sleep(30)"


def test_the_router_loads():
    hoarders = [subprocess.Popen([sys.executable, "-c", HOLD], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True) for _ in range(3)]
    held = sum(h.stdout.readline().strip() == "held" for h in hoarders)
    for hoarder in hoarders:
        hoarder.kill()
        hoarder.wait()
    (pathlib.Path(os.environ["HOME"]) / "loot.json").write_text(json.dumps({"held_gb": held}))
"""

SLEEPER = """\
import json, pathlib, subprocess, sys, time


def test_the_router_loads():
    marker = json.loads((pathlib.Path.cwd() / "tests" / "guesses.json").read_text())["marker"]
    # A daemon out of the harness's reach: a session of its own, an empty environment.
    subprocess.Popen(
        [sys.executable, "-c", f"import time; time.sleep(600)  # {marker}"],
        env={}, start_new_session=True, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    time.sleep(3600)
"""


def fast_tier(here: Ground, attack: str) -> tuple[TierReport, float]:
    """The fast tier on the candidate whose unit test is ``attack``; its report and time."""
    here.plant({ATTACK: attack})
    started = time.monotonic()
    report = run_fast(STATE, here.tree, PROJECT_ROOT, unit_tests=[TESTS])
    return report, time.monotonic() - started


def tighter(here: Ground, **limits: int) -> None:
    """The candidate's own fast-tier limits, tightened (the policy lets it lower them)."""
    path = here.tree / "ci" / "budgets.json"
    budgets = json.loads(path.read_text())
    budgets["tiers"]["fast"].update(limits)
    path.write_text(json.dumps(budgets))


def test_a_fork_bomb_is_stopped_by_the_process_limit_within_seconds(
    ground: Callable[[str], Ground], monkeypatch: pytest.MonkeyPatch
) -> None:
    with sandbox_mode(monkeypatch, "auto"):  # never unconfined: it would take the machine
        report, seconds = fast_tier(ground("bomb"), FORK_BOMB)
    assert not report.passed and report.metrics == {}
    assert report.reasons == [
        "unit tests: stopped by the sandbox's process limit (256 processes and threads)"
    ]
    assert seconds < 30  # not the tier's 120 s


@pytest.mark.parametrize(
    ("attack", "disk_mb"), [(FILL_DISK, 64), (EMPTY_FILES, 16)], ids=["bytes", "empty-files"]
)
def test_filling_the_volume_is_stopped_by_the_disk_quota(
    ground: Callable[[str], Ground], monkeypatch: pytest.MonkeyPatch, attack: str, disk_mb: int
) -> None:
    """Bytes, or empty files (each costs an inode: counted as a block), up to a quota
    the candidate lowered (the default 2048 MB takes ten seconds of the disk: slow)."""
    here = ground("fill")
    tighter(here, max_disk_mb=disk_mb)
    with sandbox_mode(monkeypatch, "auto"):
        report, seconds = fast_tier(here, attack)
    assert not report.passed
    assert report.reasons == [f"unit tests: killed: over the sandbox's disk quota ({disk_mb} MB)"]
    assert seconds < 60


@pytest.mark.slow
def test_filling_the_volume_is_stopped_by_the_default_disk_quota(
    ground: Callable[[str], Ground], monkeypatch: pytest.MonkeyPatch
) -> None:
    with sandbox_mode(monkeypatch, "auto"):
        report, _ = fast_tier(ground("fill"), FILL_DISK)
    assert report.reasons == ["unit tests: killed: over the sandbox's disk quota (2048 MB)"]


def test_a_file_past_the_size_limit_is_refused(
    ground: Callable[[str], Ground], monkeypatch: pytest.MonkeyPatch
) -> None:
    with sandbox_mode(monkeypatch, "auto"):
        report, _ = fast_tier(ground("huge"), HUGE_FILE)
    assert report.reasons == ["unit tests: killed: a file over the sandbox's size limit"]


def test_the_memory_file_systems_of_the_sandbox_are_small_or_read_only(
    ground: Callable[[str], Ground], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files in memory escape the memory limit and the disk watch: bubblewrap's root and
    /dev (as large as the machine's memory) are read-only, /tmp and /dev/shm small."""
    here = ground("memory")
    here.plant({ATTACK: MEMORY_FILES})
    with sandbox_mode(monkeypatch, "auto"):  # never unconfined: it would write to /
        run = here.run_tests()
    assert run.passed, run.reason
    loot = here.loot()
    assert (loot["/"], loot["/dev"]) == ([0, "EROFS"], [0, "EROFS"]), loot
    for small in ("/dev/shm", "/tmp"):
        written, error = loot[small]
        assert written <= 64 and error == "ENOSPC", loot


def test_one_process_over_the_tiers_memory_fails_its_allocation(
    ground: Callable[[str], Ground], monkeypatch: pytest.MonkeyPatch
) -> None:
    with sandbox_mode(monkeypatch, "auto"):
        report, _ = fast_tier(ground("hoard"), ONE_BIG_ALLOCATION)
    assert not report.passed and "MemoryError" in report.reason, report.reason


def test_the_candidates_processes_together_stay_within_the_tiers_memory(
    ground: Callable[[str], Ground], monkeypatch: pytest.MonkeyPatch
) -> None:
    if not memory.available():
        pytest.skip("no writable memory cgroup here: RLIMIT_AS holds each process alone")
    here = ground("hoarders")
    here.plant({ATTACK: MANY_ALLOCATIONS})
    with sandbox_mode(monkeypatch, "auto"):
        run = here.run_tests()
    # RLIMIT_AS caps each process; the sandbox's memory cgroup holds them together.
    assert not run.passed, f"{here.loot()['held_gb']} GB held at once, over the tier's 2048 MB"
    assert "over the sandbox's memory limit (2048 MB in all)" in run.reason, run.reason


def leftovers(marker: str) -> list[int]:
    """The processes whose command line carries ``marker``."""
    found = []
    for pid in pids():
        try:
            if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            continue
    return found


def sleep_past_the_limit(here: Ground, marker: str) -> TierReport:
    tighter(here, time_limit_s=4)
    here.guess(marker=marker)
    report, seconds = fast_tier(here, SLEEPER)
    assert seconds < 30
    return report


def test_sleeping_past_the_tiers_time_leaves_nothing_running_in_the_sandbox(
    ground: Callable[[str], Ground], monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = f"redteam-{uuid.uuid4().hex}"
    with sandbox_mode(monkeypatch, "none"):
        report = sleep_past_the_limit(ground("unconfined"), marker)
    escaped = leftovers(marker)
    for pid in escaped:  # the attack is real: unconfined, its daemon outlives the tier
        os.kill(pid, signal.SIGKILL)
    assert escaped, "the daemon did not escape an unconfined run"
    assert report.reasons == ["unit tests ran out of the tier's time (4 s left)"]

    marker = f"redteam-{uuid.uuid4().hex}"
    with sandbox_mode(monkeypatch, "auto"):
        report = sleep_past_the_limit(ground("sandboxed"), marker)
    assert report.reasons == ["unit tests ran out of the tier's time (4 s left)"]
    assert leftovers(marker) == []  # its pid namespace ended with it
