"""``bench/tuning_bench.py``'s objective: the ensemble template's declared params, and its
vectorised mix picking what the template's ``ensemble_scores`` picks (synthetic scores)."""

from __future__ import annotations

import numpy as np

from bench.templates import ENSEMBLE, MPNET
from bench.tuning_bench import answers, check_against_template, declared_params, objective
from tests.examples.conftest import catalog


def test_the_params_are_the_templates_declared_ones() -> None:
    two = {p.name: p for p in declared_params(ENSEMBLE)}
    three = {p.name: p for p in declared_params(ENSEMBLE, MPNET)}
    assert {"ensemble_w_linear", "ensemble_w_minilm", "ensemble_gate_linear"} <= set(two)
    assert set(three) - set(two) == {"ensemble_w_mpnet", "ensemble_gate_minilm"}
    patched = catalog().templates[MPNET].state_patch["params"]["ensemble_w_minilm"]["value"]
    assert three["ensemble_w_minilm"].x0 == patched != two["ensemble_w_minilm"].x0  # mpnet's
    assert not any(name in two for name in ("ensemble_weight", "ensemble_gate"))


def test_the_mix_answers_as_the_template_with_gates_and_a_dropped_member() -> None:
    rng = np.random.default_rng(7)
    matrices = {arm: rng.normal(size=(300, 6)) for arm in ("linear", "minilm", "mpnet")}
    points = [
        {
            "ensemble_w_linear": 0.5,
            "ensemble_w_minilm": 0.3,
            "ensemble_w_mpnet": 0.2,
            "ensemble_gate_linear": 1.0,
            "ensemble_gate_minilm": 0.5,
        },
        {
            "ensemble_w_linear": 0.0,
            "ensemble_w_minilm": 0.6,
            "ensemble_w_mpnet": 0.4,
            "ensemble_gate_minilm": 0.2,
        },
        {"ensemble_w_mpnet": 1.0, "ensemble_w_linear": 0.2, "ensemble_gate_linear": 0.0},
    ]
    check_against_template(matrices, points)  # raises if one row differs
    gated = answers(matrices, points[2])  # gate 0 after linear: linear answers everything
    assert (gated == matrices["linear"].argmax(1)).all()
    truth = matrices["mpnet"].argmax(1)
    assert objective(matrices, truth)({"ensemble_w_mpnet": 1.0}) == 1.0
