"""The micro tier against this project's agent code and golden cases."""

from __future__ import annotations

from pathlib import Path

from ratchet.ci.micro import run_micro
from ratchet.state import StateDocument
from tests.conftest import PROJECT_ROOT

COMMITTED = StateDocument.from_file_bytes(
    "state", (PROJECT_ROOT / "state" / "active.state.json").read_bytes()
)


def with_data(**changes: object) -> StateDocument:
    return COMMITTED.model_copy(update={"data": {**COMMITTED.data, **changes}})


def test_the_committed_state_passes() -> None:
    report = run_micro(COMMITTED, PROJECT_ROOT)
    assert report.passed, report.reason
    assert report.cases == 40


def test_a_rule_that_misroutes_golden_cases_fails_with_the_cases_named() -> None:
    report = run_micro(
        with_data(rules=[{"id": "r", "all_of": ["card"], "intent": "top_up_failed"}]), PROJECT_ROOT
    )
    assert not report.passed
    assert "expected activate_my_card" in report.reason


def test_a_state_the_agent_refuses_fails_with_its_reason() -> None:
    report = run_micro(with_data(params={}), PROJECT_ROOT)
    assert not report.passed
    assert "the agent refused the state" in report.reason and "params.knn_k" in report.reason


def test_missing_golden_cases_fail_instead_of_passing(tmp_path: Path) -> None:
    report = run_micro(COMMITTED, tmp_path)
    assert not report.passed and "cannot read the tier's inputs" in report.reason
