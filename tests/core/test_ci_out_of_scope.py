"""The tiers on a task with out-of-scope rows: in-scope accuracy, out-of-scope recall and
precision reported, gated only by the budgets' optional keys, which only tighten."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ratchet.ci.budgets import Budgets, load_budgets
from ratchet.ci.fast import run_fast
from ratchet.ci.full import _verdict, run_full
from ratchet.ci.out_of_scope import judged, scope_metrics
from ratchet.datasets import Example
from ratchet.policy import budget_loosenings
from ratchet.state import StateDocument
from ratchet.tasks import load_task
from ratchet.tasks.heldout import load_heldout, store_heldout
from tests.conftest import PROJECT_ROOT
from tests.helpers.oos_task import NAME, OOS, serving_tree

ROWS = [Example("a", "weather"), Example("b", "music"), Example("x", OOS), Example("y", OOS)]


def gated(**floors: float) -> Budgets:
    budgets = load_budgets(PROJECT_ROOT)
    gates = budgets.budgets.model_copy(update={"min_dev_accuracy": 0.0, **floors})
    return budgets.model_copy(update={"budgets": gates})


def state(threshold: float) -> StateDocument:
    document = StateDocument.from_file_bytes(
        "state", (PROJECT_ROOT / "state" / "active.state.json").read_bytes()
    )
    data = json.loads(json.dumps(document.data))
    data["params"]["abstain_threshold"]["value"] = threshold
    # Every conversation on the best arm: with exploration on, a random share of the
    # held-out conversations (their ids are random) went to the other arm, and the toy's
    # out-of-scope recall moved with it (0.85 in one CI run against a 0.9 floor).
    data["strategy"]["explore"] = False
    return StateDocument(updated_at=document.updated_at, data=data)


def test_the_three_figures_count_out_of_scope_answers_as_answers() -> None:
    answers = ["weather", OOS, OOS, "music"]  # b wrongly OOS; x rightly; y missed
    assert scope_metrics(ROWS, answers, OOS) == {
        "in_scope_accuracy": 0.5,
        "oos_recall": 0.5,
        "oos_precision": 0.5,
    }
    never = scope_metrics(ROWS, ["weather", "music", None, "music"], OOS)  # None: failed call
    assert never == {"in_scope_accuracy": 1.0, "oos_recall": 0.0, "oos_precision": None}


def test_only_declared_gates_judge_and_a_task_without_oos_rows_reports_nothing() -> None:
    answers = ["weather", "music", "weather", "music"]
    metrics, reasons = judged("dev", ROWS, answers, OOS, gated().budgets)
    assert metrics["dev_oos_recall"] == 0.0 and reasons == []  # reported, not gated
    _, reasons = judged("dev", ROWS, answers, OOS, gated(min_oos_recall=0.5).budgets)
    assert reasons == ["dev_oos_recall 0.0000 is below the budget 0.5000"]
    _, reasons = judged("dev", ROWS, answers, OOS, gated(min_oos_precision=0.5).budgets)
    assert reasons == ["dev_oos_precision was not measured"]  # no out-of-scope answer
    assert judged("dev", ROWS, answers, None, gated(min_oos_recall=0.5).budgets) == ({}, [])


def test_the_oos_gates_are_optional_keys_that_only_tighten() -> None:
    old = (PROJECT_ROOT / "ci" / "budgets.json").read_bytes()
    document = json.loads(old)
    document["budgets"]["min_oos_recall"] = 0.6
    added = json.dumps(document).encode()
    assert budget_loosenings(old, added) == []  # a new gate: allowed
    document["budgets"]["min_oos_recall"] = 0.5
    assert budget_loosenings(added, json.dumps(document).encode()) == [
        "loosen ci/budgets.json: budgets.min_oos_recall lowered from 0.6 to 0.5"
    ]
    del document["budgets"]["min_oos_recall"]
    assert budget_loosenings(added, json.dumps(document).encode()) == [
        "loosen ci/budgets.json: budgets.min_oos_recall removed"
    ]
    assert load_budgets(PROJECT_ROOT).budgets.min_oos_recall is None  # absent: not gated


def test_the_fast_tier_reports_and_gates_the_figures_on_dev(tmp_path: Path) -> None:
    root = serving_tree(tmp_path / "tree", with_code=True)
    budgets = gated(min_oos_recall=0.5)
    never = run_fast(state(0.0), root, root, budgets=budgets)
    tuned = run_fast(state(0.9), root, root, budgets=budgets)
    assert never.metrics["dev_oos_recall"] == 0.0 and never.metrics["dev_oos_precision"] is None
    assert not never.passed and "dev_oos_recall 0.0000 is below" in never.reason
    assert tuned.passed, tuned.reason
    assert tuned.metrics["dev_oos_recall"] == 1.0
    assert tuned.metrics["dev_accuracy"] > never.metrics["dev_accuracy"]  # type: ignore[operator]
    assert set(tuned.metrics) == {
        "dev_accuracy",
        "dev_in_scope_accuracy",
        "dev_oos_recall",
        "dev_oos_precision",
    }


def test_the_full_tiers_verdict_counts_an_out_of_scope_row_right_when_answered_so() -> None:
    answers = ["weather", OOS, OOS, "music"]
    measured = {
        "right": 2,
        "errors": 0,
        "latencies": [1.0] * 4,
        "answers": answers,
        "arms": {"centroid": 4},
        "arm_latencies": {"centroid": [1.0] * 4},
        "tools": {},
    }
    budgets = gated(min_heldout_accuracy=0.0, min_in_scope_accuracy=0.9)
    report = _verdict(measured, {}, ROWS, OOS, budgets, (1.0, 900.0))
    assert report.metrics["heldout_accuracy"] == 0.5
    assert report.metrics["heldout_in_scope_accuracy"] == 0.5
    assert (report.metrics["heldout_oos_recall"], report.metrics["heldout_oos_precision"]) == (
        0.5,
        0.5,
    )
    assert report.reasons == ["heldout_in_scope_accuracy 0.5000 is below the budget 0.9000"]
    plain = _verdict(measured, {}, ROWS, None, gated(min_heldout_accuracy=0.0), (1.0, 900.0))
    assert plain.passed and "heldout_oos_recall" not in plain.metrics


@pytest.mark.slow  # a Runner and a Tuner as real processes
def test_the_full_tier_serves_out_of_scope_answers_over_mcp(tmp_path: Path) -> None:
    root = serving_tree(tmp_path / "tree", with_code=True)
    budgets = gated(min_heldout_accuracy=0.9, min_oos_recall=0.9, min_oos_precision=0.9)
    budgets.exploration.max_cost = 1.0  # the toy's arms differ; exploring is not judged here
    report = run_full(state(0.7), root, root, budgets=budgets)
    assert report.passed, report.reason
    assert report.metrics["heldout_in_scope_accuracy"] == 1.0
    assert report.metrics["heldout_oos_recall"] >= 0.9  # type: ignore[operator]


def test_the_full_tier_reads_no_held_out_split_from_a_tree_without_one(tmp_path: Path) -> None:
    root = serving_tree(tmp_path / "tree")
    (root / "tasks" / NAME / "test.csv").unlink()  # as in a home's tree
    report = run_full(state(0.7), root, root, budgets=gated())
    assert not report.passed and "the held-out split is not in this tree" in report.reason
    empty = run_full(state(0.7), root, root, budgets=gated(), heldout=tmp_path / "heldout")
    assert not empty.passed and f"{NAME}/test.csv is missing" in empty.reason


@pytest.mark.slow  # a Runner and a Tuner as real processes
def test_the_full_tier_measures_the_vaults_split(tmp_path: Path) -> None:
    """A home's case: the tree has no test.csv, the harness reads the vault's."""
    root = serving_tree(tmp_path / "tree", with_code=True)
    vault = tmp_path / "home" / "heldout"
    store_heldout(vault, load_task(root / "tasks" / NAME))
    (root / "tasks" / NAME / "test.csv").unlink()
    budgets = gated(min_heldout_accuracy=0.9, min_oos_recall=0.9)
    budgets.exploration.max_cost = 1.0
    report = run_full(state(0.7), root, root, budgets=budgets, heldout=vault)
    assert report.passed, report.reason
    assert report.details["calls"] == len(load_heldout(vault, load_task(root / "tasks" / NAME)))
    assert report.metrics["heldout_oos_recall"] >= 0.9  # type: ignore[operator]
