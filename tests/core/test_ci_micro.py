"""The micro tier against this project's agent code and golden cases."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest

from ratchet.ci.agent_process import STALE_SCRATCH_S, sweep_stale_scratch
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


def test_scratch_left_by_a_killed_harness_is_swept_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    old, fresh, other = (tmp_path / n for n in ("ratchet-micro-a", "ratchet-fast-b", "keep-me"))
    for path in (old, fresh, other):
        path.mkdir()
    day_ago = time.time() - 2 * STALE_SCRATCH_S
    os.utime(old, (day_ago, day_ago))
    os.utime(other, (day_ago, day_ago))
    assert sweep_stale_scratch() == 1
    assert not old.exists() and fresh.exists() and other.exists()
