"""A conftest that breaks the harness: it ends pytest with exit 0 before any test ran, forges
pytest's summary, or kills the harness's processes. The harness must stay whole and
must not count a run as passed that passed no test; a forged pass (which no harness
can tell from a real one inside the candidate's own process) still buys nothing:
the tier scores the agent itself."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from ratchet.ci.fast import run_fast
from ratchet.ci.unit_tests import verdict
from tests.conftest import PROJECT_ROOT
from tests.redteam.attacks import ATTACK, TESTS, Ground, sandbox_mode
from tests.redteam.test_limits import STATE

CONFTEST = f"{TESTS}/conftest.py"
PASSING = "def test_the_router_loads():\n    pass\n"

EXIT_EARLY = "import os\n\nos._exit(0)\n"

FORGED = """\
import os


def pytest_collection_modifyitems(config, items):  # no test runs: a pass is printed
    config.pluginmanager.getplugin("capturemanager").suspend_global_capture()
    print(f"{len(items) + 4} passed in 0.42s", flush=True)
    os._exit(0)
"""

KILLER = """\
import errno, json, os, pathlib, signal

guesses = json.loads((pathlib.Path.cwd() / "tests" / "guesses.json").read_text())
victims = [guesses["harness"]]
if guesses.get("everything"):  # its parent and every process it can see
    victims += [os.getppid()] + [int(p) for p in os.listdir("/proc") if p.isdigit()]
outcome = {}
for pid in victims:
    if pid == os.getpid():
        continue
    try:
        os.kill(pid, signal.SIGKILL)
        outcome[str(pid)] = "signalled"
    except OSError as exc:
        outcome[str(pid)] = errno.errorcode.get(exc.errno, str(exc.errno))
(pathlib.Path(os.environ["HOME"]) / "loot.json").write_text(json.dumps(outcome))
"""


def test_a_pass_needs_pytests_summary_of_a_passed_test() -> None:
    assert verdict(0, "1 passed in 0.10s\n").passed
    assert verdict(0, "==== 3 passed, 1 skipped in 2.0s ====\n").passed
    for quiet in ("", "3 skipped in 0.1s\n", "2 deselected in 0.1s\n", "0 passed\n"):
        run = verdict(0, quiet)
        assert not run.passed and "no test passed, yet pytest exited 0" in run.reason


def test_a_conftest_exiting_0_before_any_test_is_rejected(
    ground: Callable[[str], Ground], monkeypatch: pytest.MonkeyPatch
) -> None:
    here = ground("exit")
    here.plant({ATTACK: PASSING, CONFTEST: EXIT_EARLY})
    with sandbox_mode(monkeypatch, "auto"):
        report = run_fast(STATE, here.tree, PROJECT_ROOT, unit_tests=[TESTS])
    assert not report.passed and report.metrics == {}
    assert report.reasons == ["unit tests: no test passed, yet pytest exited 0 (no summary)"]


def test_a_forged_pass_still_leaves_the_agent_to_be_scored_by_the_harness(
    ground: Callable[[str], Ground], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The candidate has no agent at all: its forged unit tests pass, its tier fails."""
    here = ground("forged")
    here.plant({ATTACK: PASSING, CONFTEST: FORGED})
    with sandbox_mode(monkeypatch, "auto"):
        report = run_fast(STATE, here.tree, PROJECT_ROOT, unit_tests=[TESTS])
    assert not report.passed and report.metrics == {}
    (reason,) = report.reasons  # the forged pass went unnoticed: the agent did not
    assert reason.startswith("the agent process exited"), reason


@pytest.fixture
def decoy() -> Iterator[subprocess.Popen[bytes]]:
    """A process standing for the harness: the attack is told its pid."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def test_a_conftest_killing_the_harness_kills_nothing_outside_the_sandbox(
    ground: Callable[[str], Ground],
    monkeypatch: pytest.MonkeyPatch,
    decoy: subprocess.Popen[bytes],
) -> None:
    here = ground("killer")
    here.plant({ATTACK: PASSING, CONFTEST: KILLER})
    here.guess(harness=decoy.pid, everything=True)  # its parent too: only in the sandbox
    with sandbox_mode(monkeypatch, "auto"):
        run = here.run_tests()
    assert decoy.poll() is None  # the harness's stand-in lives on, as does this harness
    assert here.loot()[str(decoy.pid)] == "ESRCH"  # no such process in its pid namespace
    assert run.passed, run.reason  # its own tests ran, judged by a harness left whole

    here.guess(harness=decoy.pid)
    with sandbox_mode(monkeypatch, "none"):
        run = here.run_tests()
    assert decoy.wait(timeout=10) == -9  # the attack is real: unconfined, it kills
