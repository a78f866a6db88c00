"""The harness's child processes: tied to the process that starts them, reaped after a crash.

A candidate's processes (its Runner and Tuner in the full tier, the agent
worker, its unit tests, a coder's CLI) must not outlive the Architect or
Tuner that started them: a candidate Runner and Tuner outliving a killed
Architect would be reparented to init and go on listening. Three layers,
because each alone leaves a gap:

1. **The parent-death signal** (:func:`ratchet.ci.limits.tied_to_parent`):
   the kernel SIGKILLs the child when its parent dies, by SIGKILL too. It is
   not inherited across fork, so the child's own children are not covered.
2. **A token in the environment and a process group of its own**: every
   child gets ``HARNESS_CHILD_TOKEN=<token>`` (not a ``RATCHET_`` name: a
   candidate gets none of those), which its descendants inherit with the
   environment, and leads a new process group (out of reach of the
   terminal's Ctrl-C, which the parent handles). :meth:`Child.stop` kills the
   group and every process carrying the token, so whatever a tier starts ends
   with it, even a descendant that left the group. A group, not a session:
   a new session would also be a new CPU autogroup on Linux, changing how the
   candidate shares the cores with the harness measuring its latency.
3. **A record that outlives the parent**: ``<tempdir>/ratchet-children-<uid>/
   <token>.json`` names the owner (pid and start time, so a reused pid is not
   taken for it) and the token. :func:`reap_orphans`, run by every
   :func:`start` and by a restarting Architect, kills what carries the token
   of a record whose owner is dead, then drops the record. Pids are per
   machine (per pid namespace), so the records live in the machine's temp
   directory rather than in a home that containers may share; a reboot
   clears processes and records alike.

A process is killed only after its token was read from ``/proc`` through a
pidfd opened first, so a pid reused in between is never signalled. What
escapes: a descendant that drops the environment *and* leaves the group (after
a crash: one that drops the environment), or one started in the instant
between the spawn and the record.
"""

from __future__ import annotations

import contextlib
import json
import locale
import os
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ratchet.atomic import atomic_write_bytes, sweep_temp_files
from ratchet.ci.limits import tied_to_parent
from ratchet.ci.processes import (
    TOKEN_VAR,
    alive,
    executable,
    kill_carriers,
    proc_stat,
    terminate_carriers,
)
from ratchet.sandbox import Confinement, SandboxUnavailable, sandbox_support
from ratchet.sandbox import guard as guards
from ratchet.sandbox.guard import Guard


def ledger_dir() -> Path:
    """Where this user's harness children are recorded (per machine, per user)."""
    return Path(tempfile.gettempdir()) / f"ratchet-children-{os.getuid()}"


@dataclass
class Child:
    """A process started by :func:`start`: the process, its token, its record, and for a
    sandboxed candidate the guard of its limits."""

    process: subprocess.Popen[Any]
    token: str
    record: Path | None
    guard: Guard | None = None  # a confined candidate's limits

    def violation(self) -> str | None:
        """Which of the sandbox's limits stopped the process, if one did."""
        return None if self.guard is None else self.guard.verdict(self.process.returncode)

    @property
    def pid(self) -> int:
        return self.process.pid

    def _terminate(self) -> None:
        """SIGTERM: to the process, or in a sandbox to the candidate's processes inside
        it (bubblewrap would answer a SIGTERM by SIGKILLing them: no clean shutdown)."""
        if self.guard is None or self.guard.launcher is None:
            self.process.terminate()
            return
        launcher = self.guard.launcher
        terminate_carriers(self.token, lambda pid: executable(pid) == launcher)

    def stop(self, grace: float = 10.0, ask: Callable[[], None] | None = None) -> int:
        """End the child and everything it started; its exit code.

        ``ask`` (SIGTERM by default) asks it to end; after ``grace`` seconds its
        process group and every process carrying its token are SIGKILLed, so a
        grandchild it leaves running goes too. Safe to call twice.
        """
        process = self.process
        if process.poll() is None and grace > 0:
            with contextlib.suppress(ProcessLookupError, BrokenPipeError):
                (ask or self._terminate)()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(grace)
        # Its group, even once it is reaped: a group id stays reserved while the group
        # has members, and a recycled pid would have had to become a group leader within
        # these microseconds.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        kill_carriers(self.token)
        process.wait()
        if self.guard is not None:
            self.guard.release()
        if self.record is not None:
            self.record.unlink(missing_ok=True)
        return process.returncode


def _record(token: str, pid: int, args: Sequence[str]) -> Path | None:
    """Write the record a restarted owner (or any harness run) reaps by; None if it
    cannot be written (the child is still tied to us, just not reaped after a crash)."""
    directory = ledger_dir()
    me = proc_stat(os.getpid())
    if me is None:  # no /proc: nothing to reap by either
        return None
    record = directory / f"{token}.json"
    body = {"token": token, "owner": me.pid, "owner_start": me.start, "pid": pid}
    try:
        directory.mkdir(mode=0o700, exist_ok=True)
        if directory.stat().st_uid != os.getuid():  # someone else's: not trusted
            return None
        atomic_write_bytes(record, json.dumps({**body, "args": list(args)}).encode())
    except OSError:
        return None
    return record


def reap_orphans(directory: Path | None = None) -> list[int]:
    """Kill what the children of dead owners left running; drop their records.

    An owner is dead when its pid is gone, a zombie, or another process's (a
    different start time). Only processes carrying the record's token are
    killed. Returns the pids killed.
    """
    directory = ledger_dir() if directory is None else directory
    try:
        records = sorted(directory.glob("*.json"))
    except OSError:
        return []
    killed: list[int] = []
    for path in records:
        try:
            record = json.loads(path.read_bytes())
            owner, start, token = int(record["owner"]), int(record["owner_start"]), record["token"]
        except (OSError, ValueError, KeyError, TypeError):
            continue  # vanished under us, or not ours to read
        if alive(owner, start):
            continue
        killed += kill_carriers(str(token))
        guards.reap(str(token))
        path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        sweep_temp_files(directory)
    guards.sweep()  # what killed harnesses' sandboxes left
    return killed


def start(
    args: Sequence[str],
    *,
    memory_mb: int | None = None,
    env: Mapping[str, str] | None = None,
    confinement: Confinement | None = None,
    **popen: Any,
) -> Child:
    """Start ``args`` (``subprocess.Popen`` keywords in ``popen``) as a harness child:
    tied to this process (:func:`ratchet.ci.limits.tied_to_parent`, with the memory cap
    of ``memory_mb``), in a process group of its own, carrying a token, recorded. Orphans of
    dead owners are reaped first. Stop it with :meth:`Child.stop` on the same thread.

    With a ``confinement`` the process is a candidate's: ``env`` holds only its own
    settings (the rest of its environment is built, :meth:`Confinement.environment`),
    and it runs in the machine's sandbox (:func:`ratchet.sandbox.sandbox_support`),
    or unconfined where there is none unless ``RATCHET_SANDBOX=bwrap`` asks for one
    (:class:`SandboxUnavailable`).
    """
    reap_orphans()
    token = uuid.uuid4().hex
    if confinement is None:
        child_env = {**(os.environ if env is None else env), TOKEN_VAR: token}
        process: subprocess.Popen[Any] = subprocess.Popen(
            list(args),
            env=child_env,
            preexec_fn=tied_to_parent(memory_mb),
            process_group=0,
            **popen,
        )
        return Child(process, token, _record(token, process.pid, args))
    return _start_confined(args, token, memory_mb, env or {}, confinement, popen)


def _start_confined(
    args: Sequence[str],
    token: str,
    memory_mb: int | None,
    env: Mapping[str, str],
    confinement: Confinement,
    popen: dict[str, Any],
) -> Child:
    support = sandbox_support()
    if support.required and not support.available:
        raise SandboxUnavailable(f"RATCHET_SANDBOX=bwrap, but {support.reason}")
    child_env = {**confinement.environment(env), TOKEN_VAR: token}
    command = list(args)
    guard: Guard | None = None
    if support.available and support.bwrap is not None:
        command = confinement.command(support.bwrap, args)
        guard = Guard.prepare(token, confinement, memory_mb, launcher=support.bwrap)
    fds = () if guard is None else guard.procs_fds
    prepare = tied_to_parent(memory_mb, file_mb=confinement.disk_mb, cgroup_procs=fds)
    try:
        process: subprocess.Popen[Any] = subprocess.Popen(
            command, env=child_env, preexec_fn=prepare, process_group=0, pass_fds=fds, **popen
        )
    except BaseException:
        if guard is not None:
            guard.release()
        raise
    child = Child(process, token, _record(token, process.pid, args), guard)

    def stop_tree() -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)

    if guard is not None:
        guard.watch(stop_tree)
    return child


def _decoded(data: bytes, popen: Mapping[str, Any]) -> str | bytes:
    """What ``subprocess.run`` would return for ``data`` with these Popen keywords."""
    encoding = popen.get("encoding")
    if encoding is None and (popen.get("text") or popen.get("universal_newlines")):
        encoding = locale.getpreferredencoding(False)
    if encoding is None and popen.get("errors") is None:
        return data
    text = data.decode(encoding or locale.getpreferredencoding(False), "replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


class Finished(subprocess.CompletedProcess[Any]):
    """What :func:`run` returns: a completed process, and which sandbox limit stopped it."""

    violation: str | None = None


def run(
    args: Sequence[str],
    *,
    memory_mb: int | None = None,
    input: str | bytes | None = None,
    capture_output: bool = False,
    timeout: float | None = None,
    check: bool = False,
    env: Mapping[str, str] | None = None,
    confinement: Confinement | None = None,
    **popen: Any,
) -> Finished:
    """:func:`subprocess.run` for a harness child (:func:`start`): when it exits or
    times out, whatever it left running is killed with it.

    Captured output goes through temporary files rather than pipes: a leftover
    holding a pipe open would keep this call waiting after the child exited.
    """
    with contextlib.ExitStack() as stack:
        files: list[IO[bytes]] = []
        if capture_output:
            files = [stack.enter_context(tempfile.TemporaryFile()) for _ in range(2)]
            popen["stdout"], popen["stderr"] = files
        if input is not None:
            popen["stdin"] = subprocess.PIPE
        child = start(args, memory_mb=memory_mb, env=env, confinement=confinement, **popen)
        timed_out = False
        try:
            child.process.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            child.stop(grace=0)
        outputs: list[str | bytes | None] = [None, None]
        for index, handle in enumerate(files):
            handle.seek(0)
            outputs[index] = _decoded(handle.read(), popen)
    if timed_out:
        assert timeout is not None
        raise subprocess.TimeoutExpired(list(args), timeout, outputs[0], outputs[1])
    done = Finished(list(args), child.process.returncode, *outputs)
    done.violation = child.violation()
    if check:
        done.check_returncode()
    return done
