"""Harness children die with the process that started them, and what they leave is reaped.

Real processes throughout: a stand-in for the Architect
(``tests/helpers/tier_parent.py``) starts the full tier's candidate Runner and
Tuner, or a child with a grandchild, and is SIGKILLed; the children must be
gone shortly after (polled against a deadline), and a grandchild, which no
parent-death signal reaches, must be killed by the reaper from its record.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ratchet.ci.children import ledger_dir, reap_orphans, run, start
from ratchet.ci.limits import tied_to_parent
from ratchet.ci.processes import proc_stat
from tests.conftest import PROJECT_ROOT

PAUSE = [sys.executable, "-c", "import signal; signal.pause()"]


def gone(pid: int) -> bool:
    stat = proc_stat(pid)
    return stat is None or stat.state in ("Z", "X")


def still_running(pids: Iterable[int], seconds: float = 20.0) -> list[int]:
    """The pids not gone within ``seconds`` (polled)."""
    deadline = time.monotonic() + seconds
    while (left := [pid for pid in pids if not gone(pid)]) and time.monotonic() < deadline:
        time.sleep(0.02)
    return left


@contextmanager
def tier_parent(
    mode: str, tmp_path: Path, seconds: float
) -> Iterator[tuple[subprocess.Popen[str], dict[str, int]]]:
    """Run the stand-in parent (records under ``tmp_path``); yield it and the pids it
    reported once its children are up."""
    parent = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.tier_parent", mode, str(tmp_path / "home")],
        cwd=PROJECT_ROOT,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert parent.stdout is not None
    stdout = parent.stdout
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        line = lines.get(timeout=seconds)
        assert line, f"the parent exited with {parent.wait()} before its children were up"
        yield parent, json.loads(line)
    finally:
        if parent.poll() is None:
            parent.kill()
        parent.wait()


@pytest.mark.slow
def test_a_killed_parent_takes_its_candidate_runner_and_tuner_along(tmp_path: Path) -> None:
    """The full tier's candidate services end with a SIGKILLed Architect instead of
    being reparented to init, still listening."""
    with tier_parent("candidate", tmp_path, seconds=240) as (parent, pids):
        assert set(pids) == {"runner", "tuner"}
        assert not [pid for pid in pids.values() if gone(pid)]
        parent.kill()
        parent.wait()
        assert still_running(pids.values()) == [], "the candidate outlived its parent"


def test_the_reaper_kills_what_a_killed_parents_child_left(tmp_path: Path) -> None:
    """The parent-death signal reaches the child only; the grandchild carries the
    child's token and the record names a dead owner, so the reaper (a restarted
    Architect, or any later harness run) kills it."""
    with tier_parent("grandchild", tmp_path, seconds=60) as (parent, pids):
        parent.kill()
        parent.wait()
        assert still_running([pids["child"]]) == []
        assert not gone(pids["grandchild"])  # no signal reaches it: only the reaper does
        ledger = tmp_path / f"ratchet-children-{os.getuid()}"
        assert len(list(ledger.glob("*.json"))) == 1
        assert reap_orphans(ledger) == [pids["grandchild"]]
        assert still_running([pids["grandchild"]]) == []
        assert list(ledger.glob("*.json")) == []


def test_stop_kills_what_the_child_left_even_outside_its_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    spawner = (
        "import signal, subprocess, sys\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import signal; signal.pause()'],"
        " start_new_session=True)\n"
        "print(p.pid, flush=True)\n"
        "signal.pause()\n"
    )
    child = start([sys.executable, "-c", spawner], stdout=subprocess.PIPE, text=True)
    assert child.process.stdout is not None
    grandchild = int(child.process.stdout.readline())
    assert child.record is not None and child.record.parent == ledger_dir()
    assert child.record.exists()
    assert child.stop(grace=10) == -signal.SIGTERM
    assert still_running([grandchild]) == []
    assert not child.record.exists()


def test_stop_kills_a_descendant_that_dropped_the_token_but_stayed_in_the_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child has already exited (and been reaped) when it is stopped: its group
    still goes."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    spawner = (
        "import subprocess, sys\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import signal; signal.pause()'],"
        f" env={{}}, cwd={str(tmp_path)!r})\n"
        "print(p.pid, flush=True)\n"
    )
    child = start([sys.executable, "-c", spawner], stdout=subprocess.PIPE, text=True)
    assert child.process.stdout is not None
    grandchild = int(child.process.stdout.readline())
    assert child.process.wait(60) == 0
    assert not gone(grandchild)
    child.stop(grace=10)
    assert still_running([grandchild]) == []


def test_run_returns_when_the_child_exits_and_kills_what_it_left() -> None:
    """A leftover holding the child's output open does not keep ``run`` waiting (it
    would time out on pipes), and it is killed."""
    script = (
        "import subprocess, sys\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import signal; signal.pause()'])\n"
        "print(p.pid)\n"
    )
    done = run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert still_running([int(done.stdout)]) == []


def test_a_child_whose_parent_died_before_prctl_kills_itself() -> None:
    """The race the parent-death signal leaves open: the parent gone before the child
    set it. The child then sees another parent and signals itself before exec."""
    not_us = 1 if os.getpid() != 1 else 2
    orphan = subprocess.run(
        [sys.executable, "-c", "print('ran')"],
        preexec_fn=tied_to_parent(parent=not_us),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (orphan.returncode, orphan.stdout) == (-signal.SIGKILL, "")
    ours = subprocess.run(
        [sys.executable, "-c", "print('ran')"],
        preexec_fn=tied_to_parent(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (ours.returncode, ours.stdout) == (0, "ran\n")


def test_the_reaper_spares_live_owners_and_processes_without_the_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    child = start(PAUSE)
    try:
        assert child.record is not None
        assert reap_orphans() == []  # its owner, this process, is alive
        record = json.loads(child.record.read_text())
        # A dead owner (this pid with another start time: a reused pid) whose token no
        # process carries: the record goes, nothing is killed.
        stranger = ledger_dir() / "stranger.json"
        stranger.write_text(json.dumps({**record, "owner_start": 0, "token": "f" * 32}))
        assert reap_orphans() == []
        assert not stranger.exists() and not gone(child.pid)
        # The child's own record with a dead owner: the child is killed.
        child.record.write_text(json.dumps({**record, "owner_start": 0}))
        assert reap_orphans() == [child.pid]
        assert still_running([child.pid]) == []
    finally:
        child.stop(grace=0)
