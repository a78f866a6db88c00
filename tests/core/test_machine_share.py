"""The suite's machine-share lock: an ``alone`` test runs with no other beside it."""

from __future__ import annotations

import fcntl
import threading
import time
from pathlib import Path

from tests.helpers import machine_share

WAIT_S = 10.0


def wait_until_held(path: Path) -> None:
    """Until another open file description holds an exclusive flock on ``path``."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        with path.open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            fcntl.flock(handle, fcntl.LOCK_UN)
        time.sleep(0.01)
    raise AssertionError(f"nobody took {path} within {WAIT_S} s")


def test_an_exclusive_holder_waits_for_the_shared_ones_and_then_runs_by_itself(
    tmp_path: Path,
) -> None:
    events: list[str] = []
    holding = threading.Event()
    release = threading.Event()
    alone_waiting = threading.Event()

    def first_test() -> None:
        with machine_share.shared(tmp_path):
            holding.set()
            release.wait(WAIT_S)
            events.append("shared ends")

    def alone_test() -> None:
        alone_waiting.set()
        with machine_share.exclusive(tmp_path):
            events.append("alone starts")
            release_late.wait(WAIT_S)
            events.append("alone ends")

    def next_test() -> None:
        with machine_share.shared(tmp_path):
            events.append("next starts")

    release_late = threading.Event()
    first = threading.Thread(target=first_test)
    first.start()
    assert holding.wait(WAIT_S)
    alone = threading.Thread(target=alone_test)
    alone.start()
    assert alone_waiting.wait(WAIT_S)
    wait_until_held(tmp_path / "turnstile.lock")  # the alone test waits in the turnstile
    following = threading.Thread(target=next_test)
    following.start()
    release.set()
    first.join(WAIT_S)
    following.join(0.5)  # had it overtaken the waiting alone test, it would be done
    assert events == ["shared ends", "alone starts"]
    release_late.set()
    alone.join(WAIT_S)
    following.join(WAIT_S)
    assert events == ["shared ends", "alone starts", "alone ends", "next starts"]


def test_shared_holders_run_side_by_side(tmp_path: Path) -> None:
    inside = threading.Barrier(2, timeout=WAIT_S)

    def test() -> None:
        with machine_share.shared(tmp_path):
            inside.wait()  # both inside at once, or BrokenBarrierError

    threads = [threading.Thread(target=test) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S)
    assert not inside.broken
