"""Running a candidate's code in a child process with the tier's limits.

Every candidate process (the agent, its unit tests, a candidate Runner or
Tuner) starts through :func:`candidate_env` and :func:`memory_cap`: the code
root first on ``PYTHONPATH`` (the candidate's code, never the Architect's),
no ``RATCHET_*`` settings of the parent leaking in, and an address-space
rlimit set in the child before it executes anything.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Callable
from pathlib import Path

from ratchet.objects.artifacts import CACHE_ENV, machine_cache_root


def candidate_env(code_root: Path, **extra: str) -> dict[str, str]:
    """The parent's environment minus its Ratchet settings, with the code root first.

    One variable is passed on: the machine's cache of trained artifacts
    (content-addressed, so a candidate reads only what its own inputs would
    make): without it a candidate's unit tests embedded the training set anew
    in every fast tier (two minutes of the tier's 120 s for the ensemble).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("RATCHET_")}
    env[CACHE_ENV] = str(machine_cache_root())
    env["PYTHONPATH"] = str(code_root)
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # leave the candidate's tree as it was
    env.update(extra)
    return env


def memory_cap(megabytes: int) -> Callable[[], None]:
    """A ``preexec_fn`` capping the child's address space at ``megabytes``."""

    def limit() -> None:  # runs in the child between fork and exec
        cap = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    return limit
