"""Which sandbox this machine gives candidate processes, found once per process.

``RATCHET_SANDBOX`` chooses: ``auto`` (the default) uses bubblewrap when a
trial run of it works and otherwise runs candidates unconfined, which the
Architect answers by refusing autonomous coders; ``bwrap`` requires it (a tier
fails rather than run a candidate unconfined); ``none`` turns it off. The
trial is real (``bwrap … true`` with every namespace the sandbox asks for),
because an installed ``bwrap`` may still be refused by the kernel or a
container's seccomp profile.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import cache
from typing import Literal

from ratchet.errors import ConfigError
from ratchet.sandbox import cgroups, memory

MODE_ENV = "RATCHET_SANDBOX"
Mode = Literal["auto", "bwrap", "none"]
MODES: tuple[Mode, ...] = ("auto", "bwrap", "none")

# What a sandboxed candidate process gets, in words a job, an eval summary and
# `ratchet doctor` show.
RULES = (
    "mount view: the candidate's tree read-only (without .git), its scratch volume, "
    "the Python runtime read-only; no home folder, no project checkout, no other build",
    "no network (a network namespace of its own; the full tier talks over a Unix socket)",
    "pid, ipc and uts namespaces of its own; all capabilities dropped",
    "a clean environment: no Ratchet settings or secrets of the parent",
    "limits: the tier's time and memory, a process count, a disk quota on its volume",
)


@dataclass(frozen=True)
class SandboxSupport:
    """What candidate processes run under on this machine."""

    mode: Mode
    kind: Literal["bwrap", "none"]
    reason: str  # what it is, or why there is none
    bwrap: str | None = None  # the executable, when kind is bwrap
    version: str | None = None
    process_limit: str = "none"  # how the process count is held: cgroup or none
    memory_limit: str = "rlimit"  # the tier's memory: a cgroup for all, or per process
    rules: tuple[str, ...] = field(default=())

    @property
    def available(self) -> bool:
        return self.kind == "bwrap"

    @property
    def required(self) -> bool:
        return self.mode == "bwrap"

    def to_json(self) -> dict[str, object]:
        """What a release's eval summary records of the sandbox its tiers ran under."""
        return {
            "kind": self.kind,
            "mode": self.mode,
            "version": self.version,
            "process_limit": self.process_limit,
            "memory_limit": self.memory_limit,
            "rules": list(self.rules),
            "reason": self.reason,
        }


class SandboxUnavailable(ConfigError):
    """``RATCHET_SANDBOX=bwrap`` asked for a sandbox this machine cannot give."""


def configured_mode() -> Mode:
    """The mode ``RATCHET_SANDBOX`` names (``auto`` when unset); ValueError if unknown."""
    raw = os.environ.get(MODE_ENV, "auto").strip() or "auto"
    for mode in MODES:
        if raw == mode:
            return mode
    raise ValueError(f"{MODE_ENV}={raw!r}: expected one of {', '.join(MODES)}")


def _trial(bwrap: str) -> str | None:
    """None when ``bwrap`` can build the sandbox's namespaces here, else why not."""
    args = [bwrap, "--unshare-all", "--cap-drop", "ALL", "--die-with-parent"]
    args += ["--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--", "true"]
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap did not run: {exc}"
    if done.returncode != 0:
        return f"bubblewrap cannot make namespaces here: {done.stderr.strip() or done.returncode}"
    return None


def _version(bwrap: str) -> str | None:
    try:
        out = subprocess.run([bwrap, "--version"], capture_output=True, text=True, check=False)
    except OSError:
        return None
    return out.stdout.strip().removeprefix("bubblewrap ") or None


def probe(mode: Mode) -> SandboxSupport:
    """Find out, by trying, what ``mode`` gives on this machine."""
    if mode == "none":
        return SandboxSupport(mode, "none", f"turned off ({MODE_ENV}=none)")
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        why = "bubblewrap is not installed (Debian: apt-get install bubblewrap; `make sandbox`)"
        return SandboxSupport(mode, "none", why)
    failure = _trial(bwrap)
    if failure is not None:
        return SandboxSupport(mode, "none", failure, bwrap=bwrap)
    limit = "cgroup" if cgroups.available() else "none"
    return SandboxSupport(
        mode,
        "bwrap",
        "bubblewrap: namespaces, read-only mounts, no network",
        bwrap=bwrap,
        version=_version(bwrap),
        process_limit=limit,
        memory_limit="cgroup" if memory.available() else "rlimit",
        rules=RULES,
    )


@cache
def _probed(mode: Mode) -> SandboxSupport:
    return probe(mode)


def sandbox_support(mode: Mode | None = None) -> SandboxSupport:
    """This machine's sandbox for ``mode`` (default: ``RATCHET_SANDBOX``), probed once."""
    return _probed(mode or configured_mode())
