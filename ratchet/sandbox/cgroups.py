"""A process-count limit per sandbox, from the kernel's ``pids`` cgroup controller.

``RLIMIT_NPROC`` cannot hold a fork bomb where the harness runs as root (the
kernel exempts root's processes, inside a user namespace too), so each
sandbox gets a cgroup of its own under ``ratchet/`` in the ``pids`` hierarchy
(cgroup v1's ``/sys/fs/cgroup/pids`` or a v2 ``pids`` controller). The child
joins it between fork and exec, before anything of the candidate runs; every
process and thread it starts stays in it. Where no writable hierarchy exists
(an unprivileged user, most containers) no process count is held (the
user's own ``RLIMIT_NPROC``, whatever it is, still applies);
:mod:`ratchet.sandbox.support` and ``ratchet doctor`` say so.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

from ratchet.sandbox.watch import Watch

_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup"))
PARENT = "ratchet-sandboxes"
SETTLE_S = 60.0
POLL_S = 0.1


@cache
def hierarchy() -> Path | None:
    """A writable cgroup directory with the pids controller, or None."""
    for root in _ROOTS:
        if not (root / "cgroup.procs").exists():
            continue
        controllers = root / "cgroup.controllers"
        v1 = not controllers.exists()
        if not v1 and "pids" not in controllers.read_text().split():
            continue
        parent = root / PARENT
        try:
            parent.mkdir(exist_ok=True)
            if not v1:  # v2: the parent must hand the controller to its children
                (parent / "cgroup.subtree_control").write_text("+pids")
                (root / "cgroup.subtree_control").read_text()
            probe = parent / f"probe-{os.getpid()}"
            probe.mkdir(exist_ok=True)
            ok = (probe / "pids.max").exists()
            probe.rmdir()
        except OSError:
            continue
        if ok:
            return parent
    return None


def available() -> bool:
    return hierarchy() is not None


def create(name: str, max_processes: int) -> Path | None:
    """A cgroup holding at most ``max_processes`` tasks, or None where none can be made."""
    parent = hierarchy()
    if parent is None:
        return None
    group = parent / name
    try:
        group.mkdir(exist_ok=True)
        (group / "pids.max").write_text(str(max_processes))
    except OSError:
        return None
    return group


def procs_fd(group: Path | None) -> int | None:
    """``group``'s ``cgroup.procs`` opened for writing, or None: the child writes its pid
    to it between fork and exec (opened in the parent, so the child only writes)."""
    if group is None:
        return None
    try:
        return os.open(group / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC)
    except OSError:
        return None


def event_count(group: Path | None, events: str, key: str) -> int:
    """The count ``key`` in a cgroup's events file (``pids.events``' ``max``, a memory
    cgroup's ``oom_kill``); 0 when it cannot be read."""
    if group is None:
        return 0
    with contextlib.suppress(OSError, ValueError):
        for line in (group / events).read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    return 0


def hit_limit(group: Path | None) -> bool:
    """Did a fork in ``group`` fail on its limit?"""
    return event_count(group, "pids.events", "max") > 0


def limit_watch(group: Path, on_hit: Callable[[], None]) -> Watch:
    """Calls ``on_hit`` once when a fork in ``group`` fails on its limit, while it runs.

    The limit alone holds a fork bomb's count but not its cost: its processes go on
    spinning, retrying their forks, until the tier's time runs out. A process that
    hits the limit is stopped at once instead, and its run says which rule stopped it.
    """
    return Watch("sandbox-pids", lambda: hit_limit(group), on_hit, POLL_S)


def named(name: str) -> Path | None:
    """The sandbox cgroup ``name`` would have, where cgroups are used."""
    parent = hierarchy()
    return None if parent is None else parent / name


def remove(group: Path | None) -> None:
    """Drop an emptied cgroup (its processes were killed first)."""
    if group is not None:
        with contextlib.suppress(OSError):
            group.rmdir()


def sweep(parent: Path | None = None, now: float | None = None) -> None:
    """Remove the empty cgroups of sandboxes whose harness was killed, under ``parent``
    (default: the pids hierarchy's); a minute old at least: a cgroup is empty for a
    moment between its creation and its child joining."""
    parent = hierarchy() if parent is None else parent
    if parent is None:
        return
    cutoff = (time.time() if now is None else now) - SETTLE_S
    for group in parent.iterdir():
        with contextlib.suppress(OSError):
            stale = group.is_dir() and group.stat().st_mtime < cutoff
            if stale and not (group / "cgroup.procs").read_text().strip():
                group.rmdir()
