"""A memory limit for a sandbox as a whole, from the kernel's ``memory`` cgroup controller.

``RLIMIT_AS`` caps each process of a candidate; a candidate may start up to
its process limit of them, so alone it does not hold the candidate's total.
Each sandbox therefore also gets a memory cgroup with the tier's limit,
nested under the harness's *own* memory cgroup (never the hierarchy's root,
which would take candidates out of whatever limit the harness itself runs
under). Past the limit the kernel's OOM killer ends a process of the
candidate, and :func:`oom_killed` tells the run why. This is cgroup v1's
memory hierarchy; where it is missing or not writable (an unprivileged user,
most containers, a v2-only host) the per-process rlimit holds alone, and
:mod:`ratchet.sandbox.support` says so.
"""

from __future__ import annotations

import contextlib
import os
from functools import cache
from pathlib import Path

from ratchet.sandbox.cgroups import PARENT, event_count, remove

V1_ROOT = Path("/sys/fs/cgroup/memory")


def _own_group() -> Path | None:
    """This process's memory cgroup in the v1 hierarchy, or None."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if "memory" in controllers.split(","):
                return V1_ROOT / path.lstrip("/")
    return None


@cache
def hierarchy() -> Path | None:
    """Where this harness's sandboxes get memory cgroups (made once), or None."""
    own = _own_group()
    if own is None or not (own / "memory.limit_in_bytes").exists():
        return None
    parent = own / PARENT
    try:
        parent.mkdir(exist_ok=True)
        probe = parent / f"probe-{os.getpid()}"
        probe.mkdir(exist_ok=True)
        ok = (probe / "memory.limit_in_bytes").exists()
        probe.rmdir()
    except OSError:
        return None
    return parent if ok else None


def available() -> bool:
    return hierarchy() is not None


def create(name: str, limit_mb: int) -> Path | None:
    """A memory cgroup holding its processes to ``limit_mb`` together (swap included
    where the kernel accounts it), or None where none can be made."""
    parent = hierarchy()
    if parent is None:
        return None
    group = parent / name
    limit = str(limit_mb * 1024 * 1024)
    try:
        group.mkdir(exist_ok=True)
        (group / "memory.limit_in_bytes").write_text(limit)
        with contextlib.suppress(OSError):  # only with swap accounting; after the limit
            (group / "memory.memsw.limit_in_bytes").write_text(limit)
    except OSError:
        remove(group)
        return None
    return group


def oom_killed(group: Path | None) -> bool:
    """Did the kernel kill a process of ``group`` for going over its limit?"""
    return event_count(group, "memory.oom_control", "oom_kill") > 0


def named(name: str) -> Path | None:
    """The memory cgroup of sandbox ``name``, where memory cgroups are used."""
    parent = hierarchy()
    return None if parent is None else parent / name
