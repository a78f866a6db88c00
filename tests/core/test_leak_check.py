"""The suite's check for processes a test leaves running (``tests/helpers/leaks.py``).

Real processes: each test starts one the way a leaking test would and runs the
check itself, which must name and kill it (so the autouse fixture, which runs
the same check afterwards, finds nothing).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import leaks

PAUSE = [sys.executable, "-c", "import signal; signal.pause()"]


def test_a_process_in_the_tests_tmp_path_is_named_and_killed(tmp_path: Path) -> None:
    process = subprocess.Popen(PAUSE, cwd=tmp_path)
    left = leaks.settle(leaks.Matcher([tmp_path], None), grace=0.2)
    assert [(x.pid, x.why) for x in left] == [(process.pid, "runs in the test's tmp_path")]
    assert "signal.pause()" in str(left[0]) and f"pid {process.pid}" in str(left[0])
    assert process.wait(10) == -9


def test_a_process_carrying_the_tests_token_is_found_wherever_it_runs(tmp_path: Path) -> None:
    process = subprocess.Popen(PAUSE, cwd="/")  # inherits os.environ: the token
    matcher = leaks.Matcher([tmp_path], os.environ[leaks.TOKEN_VAR])
    left = leaks.settle(matcher, grace=0.2)
    assert [(x.pid, x.why) for x in left] == [(process.pid, "started by the test")]
    assert process.wait(10) == -9


def test_a_process_that_ends_within_the_grace_is_no_leftover(tmp_path: Path) -> None:
    process = subprocess.Popen(PAUSE, cwd=tmp_path)
    process.terminate()  # stopping, not yet gone, when the check starts
    assert leaks.settle(leaks.Matcher([tmp_path], None), grace=10) == []
    assert process.wait(10) == -15


def test_another_tests_path_or_token_is_not_matched(tmp_path: Path) -> None:
    """``test_x1`` is not a prefix of ``test_x10``'s files; an unrelated token is not ours;
    the session's server (started without the token) is not the test's."""
    (tmp_path / "test_x10").mkdir()
    other = subprocess.Popen(
        [*PAUSE, str(tmp_path / "test_x10" / "f")],
        cwd=tmp_path / "test_x10",
        env=leaks.session_env(),
    )
    try:
        matcher = leaks.Matcher([tmp_path / "test_x1"], "0" * 32)
        assert leaks.find(matcher) == []
    finally:
        other.kill()
        other.wait()


LEAKY = """
import signal, subprocess, sys
import pytest

PAUSE = [sys.executable, "-c", "import signal; signal.pause()"]

def test_leaks(tmp_path):
    subprocess.Popen(PAUSE, cwd=tmp_path)

def test_cleans_up(tmp_path):
    process = subprocess.Popen(PAUSE)
    process.kill()
    process.wait()

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    return subprocess.Popen(PAUSE, cwd=tmp_path_factory.mktemp("server"))  # never stopped

def test_with_a_module_server(server):
    assert server.poll() is None
"""


def test_the_suite_fails_a_test_that_leaves_a_process_behind(tmp_path: Path) -> None:
    """End to end: pytest with this suite's fixtures on a leaky test, a clean one, and one
    whose module-scoped fixture leaves its server running (caught at the session's end)."""
    (tmp_path / "conftest.py").write_text(
        "from tests.conftest import no_leftover_processes, no_leftover_processes_in_the_run\n"
    )
    (tmp_path / "test_leaky.py").write_text(LEAKY)
    inner = tmp_path / "inner"  # its leftovers, if it failed to kill them, are ours to catch
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp", str(inner)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    # Each test passed; test_leaks errs at its teardown, the last test at the session's.
    assert "3 passed, 2 errors" in done.stdout, done.stdout
    assert "ERROR at teardown of test_leaks" in done.stdout
    assert "the test left 1 process(es) running (now killed)" in done.stdout
    assert "signal.pause()" in done.stdout and "started by the test" in done.stdout
    assert "ERROR at teardown of test_with_a_module_server" in done.stdout
    assert "the run left 1 process(es) running (now killed)" in done.stdout
    assert "/server0; runs in the run's basetemp)" in done.stdout
