"""Processes seen through ``/proc``: who they are, whether they live, killing them safely.

What the harness's reaper (:mod:`ratchet.ci.children`) and the test suite's
leak check build on. A process is identified by its pid *and* start time, so
a pid reused by another process is never mistaken for it, and a kill goes
through a pidfd opened before the process was inspected.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

TOKEN_VAR = "HARNESS_CHILD_TOKEN"
KILL_DEADLINE_S = 5.0  # SIGKILLed processes leave /proc within milliseconds


@dataclass(frozen=True)
class ProcStat:
    """The fields of ``/proc/<pid>/stat`` the reaper reads."""

    pid: int
    state: str
    ppid: int
    start: int  # clock ticks after boot: with the pid, a process's identity


def proc_stat(pid: int) -> ProcStat | None:
    """The process's stat line, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: the fields follow the last ')'.
    fields = raw[raw.rindex(b")") + 2 :].split()
    return ProcStat(pid, fields[0].decode(), int(fields[1]), int(fields[19]))


def alive(pid: int, start: int) -> bool:
    """Is the process ``pid`` that started at ``start`` still running (not a zombie)?"""
    stat = proc_stat(pid)
    return stat is not None and stat.start == start and stat.state not in ("Z", "X")


def pids() -> Iterator[int]:
    """Every process visible in ``/proc``."""
    with os.scandir("/proc") as entries:
        for entry in entries:
            if entry.name.isdigit():
                yield int(entry.name)


def descendants(pid: int) -> list[int]:
    """Every living process under ``pid`` (children, their children, ...)."""
    children: dict[int, list[int]] = {}
    for other in pids():
        stat = proc_stat(other)
        if stat is not None:
            children.setdefault(stat.ppid, []).append(other)
    found, todo = [], list(children.get(pid, []))
    while todo:
        found.append(child := todo.pop())
        todo += children.get(child, [])
    return found


def peak_rss_mb(pid: int) -> float | None:
    """The largest peak resident memory (``VmHWM``) of ``pid`` and its descendants, in
    MB; None if none can be read. A sandboxed service runs under its launcher
    (bubblewrap), so the memory is in a descendant, not in the pid started."""
    peaks = []
    for one in [pid, *descendants(pid)]:
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
    return max(peaks) if peaks else None


def _environ(pid: int) -> list[bytes]:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:  # gone, a zombie, or another user's
        return []


def kill_verified(
    pid: int, belongs: Callable[[int], bool], signum: signal.Signals = signal.SIGKILL
) -> bool:
    """SIGKILL (or ``signum``) ``pid`` if ``belongs(pid)`` holds, never a process that
    reused the pid.

    A pidfd pins the process first; ``belongs`` then reads ``/proc/<pid>``; the
    signal goes through the pidfd, which fails if its process has died, so what
    was read was that process's. Returns whether a signal was sent.
    """
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return False
    except OSError:  # no pidfds (kernel before 5.3): the plain, racy way
        if not belongs(pid):
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)
            return True
        return False
    try:
        if not belongs(pid):
            return False
        signal.pidfd_send_signal(fd, signum)
        return True
    except ProcessLookupError:
        return False
    finally:
        os.close(fd)


def carrier(token: str) -> Callable[[int], bool]:
    """Does a process's environment carry ``token``?"""
    needle = f"{TOKEN_VAR}={token}".encode()
    return lambda pid: needle in _environ(pid)


def terminate_carriers(token: str, besides: Callable[[int], bool]) -> list[int]:
    """SIGTERM, once, every process carrying ``token`` but those ``besides`` names; the
    pids signalled. A sandbox's processes are asked to end this way: its bubblewrap
    would answer a SIGTERM by SIGKILLing them, with no clean shutdown."""
    carries, me = carrier(token), os.getpid()

    def asked(pid: int) -> bool:
        return carries(pid) and not besides(pid)

    found = [pid for pid in pids() if pid != me and asked(pid)]
    return [pid for pid in found if kill_verified(pid, asked, signal.SIGTERM)]


def executable(pid: int) -> str | None:
    """The file a process runs, or None if it is gone or hidden."""
    try:
        return str(Path(f"/proc/{pid}/exe").readlink())
    except OSError:
        return None


def kill_carriers(token: str, deadline_s: float = KILL_DEADLINE_S) -> list[int]:
    """SIGKILL every process whose environment carries ``token``, until none is left
    (one may fork while the others are killed); the pids killed."""
    carries, me = carrier(token), os.getpid()

    killed: list[int] = []
    deadline = time.monotonic() + deadline_s
    while True:
        found = [pid for pid in pids() if pid != me and carries(pid)]
        if not found or time.monotonic() > deadline:
            return killed
        killed += [pid for pid in found if pid not in killed and kill_verified(pid, carries)]
        time.sleep(0.01)  # let the killed leave /proc (a zombie has no environment)
