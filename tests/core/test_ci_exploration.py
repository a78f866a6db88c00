"""Calibrating arms on dev evidence and costing exploration (``ratchet.ci.exploration``)."""

from __future__ import annotations

import pytest

from ratchet.ci.budgets import Exploration
from ratchet.ci.exploration import (
    ArmScore,
    calibrated,
    declared_arms,
    exploration_cost,
    live_arms,
)
from ratchet.state import StateDocument


def state(**strategy: object) -> StateDocument:
    return StateDocument(updated_at="2026-12-03T00:00:00.000Z", data={"strategy": strategy})


def test_dev_evidence_becomes_the_priors_and_dominated_arms_retire() -> None:
    before = state(
        arms={"a": {"alpha": 6.0, "beta": 1.0}, "b": {}, "c": {"alpha": 4.0}}, explore_share=0.5
    )
    dev = {"a": ArmScore(900, 1000), "b": ArmScore(910, 1000), "c": ArmScore(880, 1000)}
    after, lines = calibrated(before, dev, Exploration(max_explore_share=0.1, max_retire_gap=0.02))
    arms = declared_arms(after)
    assert (arms["b"]["alpha"], arms["b"]["beta"]) == (911.0, 91.0)
    assert (arms["a"]["alpha"], arms["a"]["beta"]) == (901.0, 101.0)
    assert [arms[n]["retired"] for n in "abc"] == [False, False, True]  # c: 3 points under b
    assert live_arms(after) == ["a", "b"]
    assert after.data["strategy"]["explore_share"] == 0.1  # capped by the budget
    assert any("arm c" in line and "retired" in line for line in lines)
    assert declared_arms(before)["a"]["alpha"] == 6.0  # the input is not changed


def test_a_lower_share_than_the_budget_is_kept() -> None:
    after, _ = calibrated(
        state(arms={"a": {}}, explore_share=0.05), {"a": ArmScore(1, 2)}, Exploration()
    )
    assert after.data["strategy"]["explore_share"] == 0.05


def test_exploration_cost_is_the_served_mix_shortfall() -> None:
    accuracy = {"best": 0.94, "weak": 0.89}
    assert exploration_cost({"best": 90, "weak": 10}, accuracy) == pytest.approx(0.005)
    assert exploration_cost({"best": 100}, accuracy) == 0.0
    assert exploration_cost({"other": 3}, accuracy) is None  # served by an arm never scored
