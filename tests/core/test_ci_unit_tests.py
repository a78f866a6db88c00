"""The fast tier's run of a candidate's unit tests: the project's own suite runs under the
harness as it runs under `make test`, and a suite that cannot start is the candidate's
failure with its first error line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ratchet.ci.unit_tests import first_error_line, run_unit_tests, verdict
from ratchet.objects.artifacts import CACHE_ENV, machine_cache_root
from tests.helpers.head_tree import head_tree

INTERNAL_ERROR = """\
INTERNALERROR> Traceback (most recent call last):
INTERNALERROR>   File "/x/_pytest/main.py", line 266, in wrap_session
INTERNALERROR>     config._do_configure()
INTERNALERROR>   File "/build/tests/conftest.py", line 26, in pytest_configure
INTERNALERROR>     assert config.cache is not None
INTERNALERROR> AttributeError: 'Config' object has no attribute 'cache'
"""


def candidate(tmp_path: Path, conftest: str, test: str = "def test_ok():\n    pass\n") -> Path:
    root = tmp_path / "candidate"
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "conftest.py").write_text(conftest)
    (root / "tests" / "test_it.py").write_text(test)
    return root


def test_an_internal_error_is_reported_by_its_exception_not_its_tail() -> None:
    run = verdict(3, INTERNAL_ERROR)
    assert not run.passed
    assert run.reason == (
        "unit tests: pytest hit an internal error: "
        "AttributeError: 'Config' object has no attribute 'cache'"
    )
    assert first_error_line("all good\n") is None


def test_a_conftest_that_breaks_pytest_fails_the_candidate_with_its_first_error(
    tmp_path: Path,
) -> None:
    conftest = "def pytest_configure(config):\n    raise KeyError('no such setting')\n"
    run = run_unit_tests(candidate(tmp_path, conftest), ["tests"], 60, 2048)
    assert not run.passed
    assert "internal error" in run.reason and "KeyError: 'no such setting'" in run.reason
    assert "INTERNALERROR" not in run.reason


def test_a_conftest_that_cannot_import_names_the_missing_module(tmp_path: Path) -> None:
    run = run_unit_tests(candidate(tmp_path, "import no_such_module\n"), ["tests"], 60, 2048)
    assert not run.passed
    assert "ModuleNotFoundError: No module named 'no_such_module'" in run.reason


def test_a_failing_test_names_the_summary_and_the_first_failure(tmp_path: Path) -> None:
    test = "def test_ok():\n    pass\n\ndef test_bad():\n    assert 1 == 2\n"
    run = run_unit_tests(candidate(tmp_path, "", test), ["tests"], 60, 2048)
    assert not run.passed
    assert "tests failed (1 failed, 1 passed" in run.reason
    assert "FAILED tests/test_it.py::test_bad" in run.reason


def test_the_candidate_tree_is_left_as_it_was(tmp_path: Path) -> None:
    root = candidate(tmp_path, "")
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    run = run_unit_tests(root, ["tests"], 60, 2048)
    assert run.passed, run.reason
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before  # no cache, no pyc


def test_a_missing_test_path_is_named(tmp_path: Path) -> None:
    run = run_unit_tests(candidate(tmp_path, ""), ["tests/nowhere"], 60, 2048)
    assert not run.passed and "tests/nowhere" in run.reason


@pytest.mark.slow
def test_the_projects_own_suite_runs_under_the_harness_with_the_default_paths(
    tmp_path: Path,
) -> None:
    """What the fast tier runs by default (RATCHET_ARCHITECT_FAST_TESTS), on a release's
    build as `ratchet eval --tier fast` runs it: a plain tree, no git repository, whose
    state the Tuner has tuned (as every candidate's is after the first patch release)."""
    from services.architect.settings import ArchitectSettings

    build = head_tree(tmp_path / "build")
    state_path = build / "state" / "active.state.json"
    tuned = json.loads(state_path.read_text())
    tuned["revision"] = 130
    tuned["data"]["strategy"]["arms"]["blend"].update(alpha=700.0, beta=120.0)
    tuned["data"]["rules"] = [{"id": "r1", "all_of": ["pin"], "intent": "get_physical_card"}]
    state_path.write_text(json.dumps(tuned))
    before = sorted(p.relative_to(build) for p in build.rglob("*"))
    paths = ArchitectSettings.model_fields["fast_tests"].default
    run = run_unit_tests(build, paths, 300, 2048)
    assert run.passed, run.reason + "\n" + run.output
    assert "passed" in run.reason
    assert sorted(p.relative_to(build) for p in build.rglob("*")) == before


def test_the_candidate_reads_the_machines_artifact_cache_and_writes_its_own(
    tmp_path: Path,
) -> None:
    """Trained artifacts are content-addressed: a candidate's tests reuse the machine's
    (without it, the ensemble's unit tests would embed the training set in every fast
    tier), read-only, behind a cache of its own that it writes."""
    test = (
        "import os\n\ndef test_cache():\n"
        f"    own, machine = os.environ['{CACHE_ENV}'].split(os.pathsep)\n"
        f"    assert machine == {str(machine_cache_root())!r}\n"
        "    assert 'ratchet-volume-' in own\n"
        "    open(os.path.join(own, 'x'), 'w').close()\n"
        "    assert not any(k.startswith('RATCHET_') and k != "
        f"'{CACHE_ENV}' for k in os.environ)\n"
    )
    run = run_unit_tests(candidate(tmp_path, "", test), ["tests"], 60, 2048)
    assert run.passed, run.output
