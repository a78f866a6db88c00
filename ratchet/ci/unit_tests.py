"""The candidate's own unit tests, run by the fast tier, and a verdict a person can act on.

The candidate's pytest runs from its code root in the sandbox
(:mod:`ratchet.sandbox`) with the tier's memory limit and time, as a harness
child (:mod:`ratchet.ci.children`): it dies with the process running the
tier, and whatever its tests leave running is killed when it ends.
Everything pytest writes goes to the candidate's volume (``cache_dir``,
``basetemp``), so the candidate's tree is left as it was while the suite
still gets a working cache provider, as it does under ``make test`` (the
project's ``tests/conftest.py`` keeps model caches in ``config.cache`` when
there is one), kept for the candidate's next run.

A suite that cannot start (a broken ``conftest.py``, an import error, a
missing path) is the candidate's failure, reported with its first error line,
never as the last line of an ``INTERNALERROR`` traceback.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ratchet.ci.children import run as run_child
from ratchet.sandbox import SandboxUnavailable, confine
from ratchet.sandbox.confinement import DEFAULT_DISK_MB, DEFAULT_MAX_PROCESSES

TAIL_LINES = 15

# pytest's exit codes (pytest.ExitCode), spelled out for the reason a job shows.
_EXIT_MEANING = {
    1: "tests failed",
    2: "the run was interrupted (collection errors)",
    3: "pytest hit an internal error",
    4: "pytest could not run as asked",
    5: "no tests were collected",
}
_PREFIX = re.compile(r"^(INTERNALERROR>|E)\s+")  # pytest's markers on traceback lines
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning)\b:?")
_SUMMARY_LINE = re.compile(r"^=*\s*\d+ (passed|failed|error|errors|skipped|deselected)\b")
_PASSED = re.compile(r"\b[1-9]\d* passed\b")  # pytest's summary names at least one pass


@dataclass(frozen=True)
class UnitTestRun:
    passed: bool
    reason: str  # one line: what failed and the first error, or the passing summary
    output: str  # the last lines of pytest's output, for the stage log

    def to_json(self, paths: Sequence[str]) -> dict[str, object]:
        return {"paths": list(paths), "passed": self.passed, "output": self.output}


def first_error_line(output: str) -> str | None:
    """The first line naming an exception (``AttributeError: ...``), prefixes removed."""
    for raw in output.splitlines():
        line = _PREFIX.sub("", raw.strip())
        if _EXCEPTION_LINE.match(line) and ":" in line:
            return line
    return None


def _summary_line(output: str) -> str | None:
    """pytest's closing ``N failed, M passed in T s`` line, without its ``=`` rule."""
    for raw in reversed(output.splitlines()):
        line = raw.strip()
        if _SUMMARY_LINE.match(line):
            return line.strip("= ").strip()
    return None


def _first_failed(output: str) -> str | None:
    return next(
        (line.strip() for line in output.splitlines() if line.startswith(("FAILED ", "ERROR "))),
        None,
    )


def verdict(returncode: int, output: str) -> UnitTestRun:
    """What a pytest exit code and output mean for the candidate: a pass needs exit 0 and
    pytest's summary of at least one passed test (a process that exits 0 early, before
    its tests ran, has not passed them)."""
    tail = "\n".join(output.strip().splitlines()[-TAIL_LINES:])
    summary = _summary_line(output)
    if returncode == 0 and summary is not None and _PASSED.search(summary):
        return UnitTestRun(True, f"unit tests passed: {summary}", tail)
    if returncode == 0:  # e.g. a conftest's os._exit(0) before any test ran
        said = summary or "no summary"
        return UnitTestRun(False, f"unit tests: no test passed, yet pytest exited 0 ({said})", tail)
    meaning = _EXIT_MEANING.get(returncode, f"pytest exited with {returncode}")
    if returncode == 1:  # the suite ran: say how it ended and the first test that failed
        meaning = f"{meaning} ({_summary_line(output) or 'no summary'})"
        detail = _first_failed(output) or first_error_line(output)
    else:  # the suite never ran its tests: the candidate's conftest, imports or paths
        detail = first_error_line(output) or _first_failed(output)
    last = (output.strip().splitlines() or ["no output"])[-1].strip()
    return UnitTestRun(False, f"unit tests: {meaning}: {detail or last}", tail)


def run_unit_tests(
    code_root: Path,
    paths: Sequence[str],
    seconds: float,
    memory_mb: int,
    *,
    max_processes: int = DEFAULT_MAX_PROCESSES,
    disk_mb: int = DEFAULT_DISK_MB,
) -> UnitTestRun:
    """Run the candidate's pytest ``paths`` from ``code_root``, in its sandbox with these
    limits: not the slow ones, nor those that start a database server (the sandbox
    cannot run one as its own user, and the store tests are the core's, not the
    candidate's)."""
    confinement = confine(code_root, max_processes=max_processes, disk_mb=disk_mb)
    work = confinement.volume / "work"
    command = [sys.executable, "-m", "pytest", "-q", "-x", "-m", "not slow and not postgres"]
    command += ["-o", f"cache_dir={work / 'pytest-cache'}"]
    basetemp = work / f"pytest-{uuid.uuid4().hex[:8]}"  # runs of one tree may overlap
    command += [f"--basetemp={basetemp}", *paths]
    try:
        done = run_child(  # a harness child: what its tests leave running goes with it
            command,
            cwd=code_root,
            confinement=confinement,
            capture_output=True,
            text=True,
            timeout=max(seconds, 1.0),
            memory_mb=memory_mb,
        )
    except subprocess.TimeoutExpired:
        reason = f"unit tests ran out of the tier's time ({seconds:.0f} s left)"
        return UnitTestRun(False, reason, "")
    except SandboxUnavailable as exc:
        return UnitTestRun(False, f"unit tests not run: {exc}", "")
    finally:
        shutil.rmtree(basetemp, ignore_errors=True)
    if done.violation is not None:
        return UnitTestRun(False, f"unit tests: {done.violation}", _tail(done))
    return verdict(done.returncode, done.stdout + done.stderr)


def _tail(done: subprocess.CompletedProcess[str]) -> str:
    return "\n".join((done.stdout + done.stderr).strip().splitlines()[-TAIL_LINES:])
