"""The fast and full tiers' failure paths and the tier runner, on tiny code roots."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ratchet.ci.fast import run_fast
from ratchet.ci.full import percentile, run_full, sample_of
from ratchet.ci.tiers import CiOptions, run_tiers, summary_of, tiers_up_to
from ratchet.datasets import Example
from ratchet.state import StateDocument
from tests.conftest import PROJECT_ROOT

STATE = StateDocument.from_file_bytes(
    "state", (PROJECT_ROOT / "state" / "active.state.json").read_bytes()
)


def code_root(tmp_path: Path) -> Path:
    root = tmp_path / "candidate"
    (root / "ci").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "ci" / "budgets.json", root / "ci" / "budgets.json")
    return root


def test_a_failing_unit_test_fails_the_fast_tier_before_any_scoring(tmp_path: Path) -> None:
    root = code_root(tmp_path)
    (root / "tests").mkdir()
    (root / "tests" / "test_broken.py").write_text("def test_broken():\n    assert 1 == 2\n")
    report = run_fast(STATE, root, PROJECT_ROOT, unit_tests=["tests"])
    assert not report.passed and "unit tests" in report.reason and "1 failed" in report.reason
    assert report.metrics == {}  # the dev split was never routed


def test_a_candidate_runner_that_cannot_start_fails_the_full_tier(tmp_path: Path) -> None:
    root = code_root(tmp_path)
    for name in ("runner", "tuner"):
        package = root / "services" / name
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "__main__.py").write_text("raise SystemExit('broken on purpose')\n")
    (root / "services" / "__init__.py").write_text("")
    report = run_full(STATE, root, PROJECT_ROOT, sample=10)
    assert not report.passed
    assert "did not start" in report.reason and "broken on purpose" in report.reason


def test_the_runner_stops_at_the_first_failing_tier(tmp_path: Path) -> None:
    seen: list[str] = []
    reports = run_tiers(
        STATE,
        code_root(tmp_path),  # no golden cases here: micro fails
        PROJECT_ROOT,
        options=CiOptions(unit_tests=()),
        on_report=lambda r: seen.append(r.tier),
    )
    assert seen == ["micro"] and not reports[0].passed
    assert summary_of(reports)["passed"] is False
    assert tiers_up_to("fast") == ("micro", "fast")


def test_the_summary_records_the_sandbox_the_tiers_ran_under(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RATCHET_SANDBOX", "none")
    sandbox = summary_of([])["sandbox"]
    assert sandbox["kind"] == "none" and sandbox["mode"] == "none"
    assert "RATCHET_SANDBOX=none" in sandbox["reason"]
    assert set(sandbox) == {
        "kind",
        "mode",
        "version",
        "process_limit",
        "memory_limit",
        "rules",
        "reason",
    }


def test_samples_and_percentiles() -> None:
    examples = tuple(Example(str(i), "x") for i in range(100))
    assert [e.text for e in sample_of(examples, 4)] == ["0", "25", "50", "75"]
    assert len(sample_of(examples, None)) == 100
    assert percentile([float(i) for i in range(1, 101)], 0.95) == 95.0
    assert percentile([], 0.95) is None
