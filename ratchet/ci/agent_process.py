"""The agent under test in its own process: the harness sends states, gets intents back.

The child runs from a code root (a candidate's tree, or a release's
commit-scoped build) in the sandbox (:mod:`ratchet.sandbox`) with the tier's
memory limit; each answer has the tier's time limit. It reads the texts from a
file the harness mounts read-only, and keeps trained models in the code root's
volume, which the code root's other processes share. One process
serves many states, so scoring a batch of candidates (CMA-ES, rule gating)
pays the start-up and model training once. It is a harness child
(:mod:`ratchet.ci.children`): it dies with the process that started it, and
what it leaves running is killed when the block ends.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ratchet.ci.budgets import TierLimits, load_budgets
from ratchet.ci.children import Child, start
from ratchet.errors import RatchetError
from ratchet.sandbox import SandboxUnavailable, confine
from ratchet.state import StateDocument


class AgentRefused(RatchetError):
    """The agent code rejected the state, crashed, or ran out of time or memory."""


def tier_limits(code_root: Path, tier: str) -> TierLimits:
    """``tier``'s limits from the code root's ``ci/budgets.json`` (tighten-only: a
    candidate can only lower its own)."""
    return load_budgets(code_root).limits(tier)


class AgentProcess:
    def __init__(self, child: Child, seconds: float, stderr: Path) -> None:
        self._child = child
        self._process: subprocess.Popen[str] = child.process
        self._seconds = seconds
        self._stderr = stderr
        self._lock = threading.Lock()

    def route(self, state: StateDocument | dict[str, Any], arm: str | None = None) -> list[str]:
        """The intent the agent gives each text under ``state`` with ``arm`` (default: the
        state's greedy arm); raises AgentRefused."""
        document = state.to_json() if isinstance(state, StateDocument) else state
        request: dict[str, Any] = {"state": document}
        if arm is not None:
            request["arm"] = arm
        with self._lock:
            stdin, stdout = self._process.stdin, self._process.stdout
            assert stdin is not None and stdout is not None
            try:
                stdin.write(json.dumps(request) + "\n")
                stdin.flush()
            except BrokenPipeError:
                raise AgentRefused(self._death()) from None
            # A timer, not select(): the answer may be larger than a pipe buffer.
            timer = threading.Timer(self._seconds, self._process.kill)
            timer.start()
            try:
                line = stdout.readline()
            finally:
                timer.cancel()
        if not line:
            raise AgentRefused(self._death())
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise AgentRefused(f"the agent refused the state: {answer['error']}")
        intents: list[str] = answer["intents"]
        return intents

    def _death(self) -> str:
        code = self._process.wait()
        violation = self._child.violation()
        if violation is not None:
            return violation
        if code == -9:
            return f"killed: no answer within {self._seconds:.0f} s or over the memory limit"
        lines = self._stderr.read_text(errors="replace").strip().splitlines()
        last = (lines or ["no output"])[-1]
        return f"the agent process exited ({code}): {last}"


TIERS = ("micro", "fast", "full")
STALE_SCRATCH_S = 24 * 3600  # no tier runs for a day: older scratch is a killed parent's


def sweep_stale_scratch(now: float | None = None) -> int:
    """Remove the scratch directories of harness runs whose process was killed."""
    cutoff = (time.time() if now is None else now) - STALE_SCRATCH_S
    removed = 0
    root = Path(tempfile.gettempdir())
    for path in (p for tier in TIERS for p in root.glob(f"ratchet-{tier}-*")):
        with contextlib.suppress(OSError):
            if path.is_dir() and path.stat().st_mtime < cutoff:
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
    return removed


def _start_worker(args: list[str], **options: Any) -> Child:
    try:
        return start(args, **options)
    except SandboxUnavailable as exc:
        raise AgentRefused(str(exc)) from None


@contextmanager
def agent_process(code_root: Path, texts: Sequence[str], tier: str) -> Iterator[AgentProcess]:
    """Start the agent of ``code_root`` on ``texts`` with ``tier``'s limits."""
    limits = tier_limits(code_root, tier)
    seconds = limits.time_limit_s
    sweep_stale_scratch()
    worker = Path(__file__).with_name("agent_worker.py")  # the harness's own, by path
    with tempfile.TemporaryDirectory(prefix=f"ratchet-{tier}-") as scratch:
        inputs = Path(scratch) / "inputs"
        inputs.mkdir()
        (inputs / "texts.json").write_text(json.dumps(list(texts)))
        confinement = confine(
            code_root,
            (inputs, worker),
            max_processes=limits.max_processes,
            disk_mb=limits.max_disk_mb,
        )
        stderr_path = Path(scratch) / "stderr.log"
        with stderr_path.open("w") as stderr:  # a file: an unread pipe could fill and block
            child = _start_worker(
                [
                    sys.executable,
                    str(worker),
                    str(inputs / "texts.json"),
                    str(confinement.volume / "objects"),
                    str(confinement.code_root),
                ],
                memory_mb=limits.memory_limit_mb,
                cwd=code_root,
                confinement=confinement,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        try:
            yield AgentProcess(child, seconds, stderr_path)
        finally:
            stdin = child.process.stdin
            child.stop(grace=5, ask=stdin.close if stdin else None)  # end of input: it exits
