"""Processes a test left running, found in ``/proc`` by what ties them to the test.

A process belongs to a test when its working directory, command line or
environment names one of the test's paths (its ``tmp_path``: homes, builds,
worktrees and scripts all live there), or when its environment carries the
test's token (:data:`TOKEN_VAR`, set in ``os.environ`` for the test's duration,
so every process it starts inherits it unless handed an environment of its
own; not a ``RATCHET_`` name, which the harness strips from candidates).
Used by the autouse fixture ``no_leftover_processes`` in ``tests/conftest.py``.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from multiprocessing import forkserver, resource_tracker
from pathlib import Path

from ratchet.ci.processes import kill_verified, pids, proc_stat

TOKEN_VAR = "PYTEST_LEAK_TOKEN"
POLL_S = 0.05

# Spawning events of sys.addaudithook: a test that raised one started a process.
SPAWN_EVENTS = frozenset(
    {"subprocess.Popen", "os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "os.system"}
)


def session_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (``os.environ``) without the test's token: for processes meant to outlive
    the test that happened to start them (a session fixture's server)."""
    return {k: v for k, v in (os.environ if env is None else env).items() if k != TOKEN_VAR}


@dataclass(frozen=True)
class Leftover:
    pid: int
    cmdline: str
    cwd: str
    why: str

    def __str__(self) -> str:
        return f"pid {self.pid}: {self.cmdline[:300]} (cwd {self.cwd}; {self.why})"


def _ancestors() -> set[int]:
    """This process and its ancestors (pytest, xdist's controller, the shell; in a
    sandbox, its pid namespace's init: bubblewrap, pid 1)."""
    found, pid = set(), os.getpid()
    while pid > 0 and pid not in found:
        found.add(pid)
        stat = proc_stat(pid)
        pid = stat.ppid if stat is not None else 0
    return found


def _process_helpers() -> set[int]:
    """multiprocessing's resource tracker and fork server of this process: started by
    the first test that needs them, they serve the whole process and end with it."""
    helpers = (
        getattr(resource_tracker._resource_tracker, "_pid", None),
        getattr(forkserver._forkserver, "_forkserver_pid", None),
    )
    return {pid for pid in helpers if isinstance(pid, int)}


class Matcher:
    """Does a process refer to the test (its paths, its token)?"""

    def __init__(
        self, paths: Iterable[Path], token: str | None, label: str = "the test's tmp_path"
    ) -> None:
        self.label = label
        names = {str(p) for p in paths} | {os.path.realpath(p) for p in paths}
        self.prefixes = sorted(names)
        # A path followed by something that cannot continue a file name: test_x1 is
        # not test_x10.
        alternatives = b"|".join(re.escape(n.encode()) for n in self.prefixes)
        self.pattern = re.compile(rb"(?:" + alternatives + rb")(?![\w.-])") if names else None
        self.token = f"{TOKEN_VAR}={token}".encode() if token else None

    def why(self, pid: int) -> Leftover | None:
        base = Path(f"/proc/{pid}")
        try:
            cmdline = (base / "cmdline").read_bytes()
            environ = (base / "environ").read_bytes()
            cwd = str((base / "cwd").readlink())
        except OSError:  # gone, a zombie (no cwd), or another user's
            return None
        argv = cmdline.replace(b"\0", b" ").decode(errors="replace").strip()
        if self.token is not None and self.token in environ.split(b"\0"):
            return Leftover(pid, argv, cwd, "started by the test")
        if any(cwd == p or cwd.startswith(p + "/") for p in self.prefixes):
            return Leftover(pid, argv, cwd, f"runs in {self.label}")
        if self.pattern is not None and self.pattern.search(cmdline):
            return Leftover(pid, argv, cwd, f"names {self.label}")
        if self.pattern is not None and self.pattern.search(environ):
            return Leftover(pid, argv, cwd, f"its environment names {self.label}")
        return None


def find(matcher: Matcher) -> list[Leftover]:
    """The live processes (not zombies, not this process or its ancestors) matched."""
    skip = _ancestors() | _process_helpers()
    # A zombie has no cwd, command line or environment left: why() passes over it.
    found = (matcher.why(pid) for pid in pids() if pid not in skip)
    return [leftover for leftover in found if leftover is not None]


def settle(matcher: Matcher, grace: float) -> list[Leftover]:
    """Wait up to ``grace`` seconds for the test's processes to end (some are stopping:
    SIGTERMed, or signalled by a parent's death); SIGKILL the rest and return them."""
    deadline = time.monotonic() + grace
    left = find(matcher)
    while left and time.monotonic() < deadline:
        time.sleep(POLL_S)
        left = find(matcher)
    for leftover in left:
        kill_verified(leftover.pid, lambda pid: matcher.why(pid) is not None)
    deadline = time.monotonic() + grace
    while find(matcher) and time.monotonic() < deadline:
        time.sleep(POLL_S)
    return left
