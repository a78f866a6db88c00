"""Running a candidate's code in a child process with the tier's limits.

Every candidate process (the agent, its unit tests, a candidate Runner or
Tuner) starts through :func:`candidate_env` and :func:`tied_to_parent`: the
code root first on ``PYTHONPATH`` (the candidate's code, never the
Architect's), no ``RATCHET_*`` settings of the parent leaking in, an
address-space rlimit, and a parent-death signal, both set in the child before
it executes anything. :mod:`ratchet.ci.children` starts them that way (and
also reaps what they leave behind).
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from ratchet.objects.artifacts import CACHE_ENV, machine_cache_root

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


def candidate_env(code_root: Path, **extra: str) -> dict[str, str]:
    """The parent's environment minus its Ratchet settings, with the code root first.

    One variable is passed on: the machine's cache of trained artifacts
    (content-addressed, so a candidate reads only what its own inputs would
    make): without it a candidate's unit tests would embed the training set
    anew in every fast tier (two minutes of the tier's 120 s for the ensemble).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("RATCHET_")}
    env[CACHE_ENV] = str(machine_cache_root())
    env["PYTHONPATH"] = str(code_root)
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # leave the candidate's tree as it was
    env.update(extra)
    return env


def tied_to_parent(
    memory_mb: int | None = None,
    *,
    death_signal: signal.Signals = signal.SIGKILL,
    parent: int | None = None,
) -> Callable[[], None]:
    """The ``preexec_fn`` of every process the harness starts: it dies with its parent.

    In the child, between fork and exec: ``prctl(PR_SET_PDEATHSIG, death_signal)``,
    so the kernel signals the child when its parent goes, SIGKILL included (a
    killed Architect's candidate Runner and Tuner would otherwise go on serving,
    reparented to init); then, if the parent (``parent``, this process by
    default) died before that call, so that no signal will ever come, the child
    SIGKILLs itself before executing anything (SIGKILL whatever
    ``death_signal``: a caught SIGTERM would let the exec go on); then the
    address-space cap of ``memory_mb``, if any.

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

    return prepare


def memory_cap(megabytes: int) -> Callable[[], None]:
    """A ``preexec_fn`` capping the child's address space at ``megabytes``; the child
    is tied to its parent too (:func:`tied_to_parent`, of which this is a shorthand)."""
    return tied_to_parent(megabytes)
