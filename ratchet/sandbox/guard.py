"""The limits one sandboxed process tree is held to, and which of them stopped it.

A :class:`Guard` is made right before a candidate process is spawned and
released when it is stopped. It holds the tree's cgroups (a process count,
:mod:`ratchet.sandbox.cgroups`; a memory total, :mod:`ratchet.sandbox.memory`),
which the child joins between fork and exec through the descriptors in
:attr:`Guard.procs_fds`, and the watches that stop the tree the moment it
breaks a limit (its volume's quota, :func:`ratchet.sandbox.volume.disk_watch`;
its process count, :func:`ratchet.sandbox.cgroups.limit_watch`). Its
:meth:`verdict` names the limit in words a job shows.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ratchet.sandbox import cgroups, memory
from ratchet.sandbox import volume as volumes
from ratchet.sandbox.confinement import Confinement
from ratchet.sandbox.volume import disk_watch
from ratchet.sandbox.watch import Watch


@dataclass
class Guard:
    token: str
    confinement: Confinement
    memory_mb: int | None = None
    launcher: str | None = None  # the sandbox's own executable (bubblewrap), resolved
    pids_group: Path | None = None
    memory_group: Path | None = None
    procs_fds: tuple[int, ...] = ()
    _disk: Watch | None = None
    _pids: Watch | None = None
    _hit: set[str] = field(default_factory=set)  # limits read before their cgroups went

    @classmethod
    def prepare(
        cls,
        token: str,
        confinement: Confinement,
        memory_mb: int | None,
        *,
        launcher: str | None = None,
    ) -> Guard:
        """The cgroups of a process tree about to start (none where the kernel gives none)."""
        resolved = None if launcher is None else str(Path(launcher).resolve())
        guard = cls(token, confinement, memory_mb, resolved)
        guard.pids_group = cgroups.create(token, confinement.max_processes)
        if memory_mb is not None:
            guard.memory_group = memory.create(token, memory_mb)
        fds = [cgroups.procs_fd(g) for g in (guard.pids_group, guard.memory_group)]
        guard.procs_fds = tuple(fd for fd in fds if fd is not None)
        return guard

    def watch(self, stop_tree: Callable[[], None]) -> None:
        """The tree has started: close the parent's descriptors and watch its limits."""
        self.close_fds()
        self._disk = disk_watch(self.confinement.written, self.confinement.disk_mb, stop_tree)
        if self.pids_group is not None:  # a fork bomb stops when it hits the limit
            self._pids = cgroups.limit_watch(self.pids_group, stop_tree)

    def close_fds(self) -> None:
        for fd in self.procs_fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.procs_fds = ()

    def _read(self) -> None:
        if cgroups.hit_limit(self.pids_group):
            self._hit.add("processes")
        if memory.oom_killed(self.memory_group):
            self._hit.add("memory")

    def verdict(self, returncode: int | None) -> str | None:
        """Which limit stopped the tree, if one did."""
        self._read()
        limits = self.confinement
        if self._disk is not None and self._disk.tripped:
            return f"killed: over the sandbox's disk quota ({limits.disk_mb} MB)"
        if "processes" in self._hit:
            return (
                "stopped by the sandbox's process limit "
                f"({limits.max_processes} processes and threads)"
            )
        if "memory" in self._hit:
            return f"killed: over the sandbox's memory limit ({self.memory_mb} MB in all)"
        # Unconfined, the signal ends the process; bubblewrap reports its child's as 128 + n.
        if returncode in (-signal.SIGXFSZ, 128 + signal.SIGXFSZ):
            return "killed: a file over the sandbox's size limit"
        return None

    def release(self) -> None:
        """The tree is dead: stop watching, keep what the cgroups said, remove them."""
        self.close_fds()
        for watch in (self._disk, self._pids):
            if watch is not None:
                watch.stop()
        self._read()
        cgroups.remove(self.pids_group)
        cgroups.remove(self.memory_group)


def reap(token: str) -> None:
    """Remove the cgroups of a tree whose harness died (its processes were killed)."""
    cgroups.remove(cgroups.named(token))
    cgroups.remove(memory.named(token))


def sweep() -> None:
    """Remove what killed harnesses' sandboxes left: empty cgroups, day-old volumes."""
    cgroups.sweep()
    cgroups.sweep(memory.hierarchy())
    volumes.sweep()
