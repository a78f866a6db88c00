"""The limits a harness child gets between fork and exec.

Every process the harness starts (the agent, a candidate's unit tests, its
Runner or Tuner; the fleet's services under the supervisor) runs
:func:`tied_to_parent` before it executes anything: a parent-death signal,
an address-space rlimit, and for a sandboxed candidate a file-size rlimit and
its process-count cgroup (:mod:`ratchet.sandbox`). :mod:`ratchet.ci.children`
starts them that way (and also reaps what they leave behind).
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys
from collections.abc import Callable, Sequence

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _load_prctl() -> Callable[..., int] | None:
    """libc's ``prctl``, resolved once in the parent: the child between fork and exec
    only calls it (no library loading there). None off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl.argtypes = [ctypes.c_int, *[ctypes.c_ulong] * 4]
    prctl.restype = ctypes.c_int
    typed: Callable[..., int] = prctl
    return typed


_PRCTL = _load_prctl()


def tied_to_parent(
    memory_mb: int | None = None,
    *,
    death_signal: signal.Signals = signal.SIGKILL,
    parent: int | None = None,
    file_mb: int | None = None,
    cgroup_procs: Sequence[int] = (),
) -> Callable[[], None]:
    """The ``preexec_fn`` of every process the harness starts: it dies with its parent.

    In the child, between fork and exec: ``prctl(PR_SET_PDEATHSIG, death_signal)``,
    so the kernel signals the child when its parent goes, SIGKILL included (a
    killed Architect's candidate Runner and Tuner would otherwise go on serving,
    reparented to init); then, if the parent (``parent``, this process by
    default) died before that call, so that no signal will ever come, the child
    SIGKILLs itself before executing anything (SIGKILL whatever
    ``death_signal``: a caught SIGTERM would let the exec go on); then the
    address-space cap of ``memory_mb``, if any; then the cap of ``file_mb`` on any
    one file it writes, and joining the cgroups whose ``cgroup.procs`` are open as
    ``cgroup_procs`` (a sandbox's process count and memory), if given.

    Linux signals the child when the *thread* that forked it exits, not only the
    process: a child must be started and stopped within one call on one thread.
    Every user does so (a context manager or a blocking call around the child):
    the Architect runs a job's tiers synchronously on its long-lived worker
    thread, the Tuner scores inside one ``to_thread`` call, the supervisor
    starts the fleet from its main thread. Grandchildren are not covered by
    the signal (it is not inherited across fork); :mod:`ratchet.ci.children`
    reaps them. Create the function right before the spawn, in the parent.
    """
    expected = os.getpid() if parent is None else parent

    def prepare() -> None:  # runs in the child between fork and exec
        if _PRCTL is not None:
            if _PRCTL(PR_SET_PDEATHSIG, int(death_signal), 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
            if os.getppid() != expected:  # the parent died before prctl: no signal will come
                os.kill(os.getpid(), signal.SIGKILL)
        if memory_mb is not None:
            cap = memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        if file_mb is not None:
            size = file_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        for procs in cgroup_procs:
            os.write(procs, str(os.getpid()).encode())

    return prepare


def memory_cap(megabytes: int) -> Callable[[], None]:
    """A ``preexec_fn`` capping the child's address space at ``megabytes``; the child
    is tied to its parent too (:func:`tied_to_parent`, of which this is a shorthand)."""
    return tied_to_parent(megabytes)
