"""The default agent's pieces: state validation, training, the fast vectorizer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ratchet import datasets
from ratchet.objects import FilesystemObjectStore
from services.runner.agent.build import RouterFactory
from services.runner.agent.model import from_bytes, to_bytes, train
from services.runner.agent.state import AgentState, Features, default_state, parse
from tests.conftest import PROJECT_ROOT

LABELS = datasets.labels(PROJECT_ROOT)
# v0.1.0's held-out accuracy on each built-in task (its centroid arm), measured.
V010_HELDOUT = {"banking77": (0.78, 0.83), "hwu64": (0.74, 0.78)}


@pytest.mark.parametrize("features", [Features(), Features(ngram_max=2, sublinear_tf=True)])
def test_fast_vectorizer_matches_sklearn(features: Features) -> None:
    model = train(datasets.load(PROJECT_ROOT, "train"), LABELS, features)
    for example in datasets.load(PROJECT_ROOT, "dev")[:300]:
        row = model.vectorize(example.text)
        theirs = model.vectorizer.transform([example.text])
        assert np.allclose(row.toarray(theirs.shape[1]), theirs.toarray().ravel(), atol=1e-12)
        assert np.allclose(model.centroid_scores(row), (theirs @ model.centroids.T).ravel())
        assert np.allclose(
            model.example_similarities(row), (theirs @ model.examples.T).toarray().ravel()
        )
    empty = model.vectorize("zzzz qqqq")  # unknown words only
    assert len(empty.columns) == 0 and not model.example_similarities(empty).any()


def test_artifact_round_trip_loads_without_pickle() -> None:
    model = train(datasets.load(PROJECT_ROOT, "train"), LABELS, Features())
    loaded = from_bytes(to_bytes(model, Features()))
    text = datasets.load(PROJECT_ROOT, "dev")[0].text
    assert np.allclose(loaded.vectorize(text).values, model.vectorize(text).values)
    assert np.array_equal(loaded.centroids, model.centroids)
    assert loaded.labels == model.labels


def test_the_committed_state_is_a_valid_agent_state_for_every_intent() -> None:
    """Whatever the Tuner and the Architect made of it: the fast tier runs this suite on
    every candidate, whose state is tuned (the project's own, v0.1.0's, is checked
    against its generator in tests/test_project_files.py)."""
    committed = json.loads((PROJECT_ROOT / "state" / "active.state.json").read_text())
    state = parse(committed["data"])
    assert set(state.replies) == set(LABELS)
    assert state.strategy.live() and all(variants for variants in state.replies.values())


def test_state_rejects_out_of_bounds_parameters() -> None:
    data = default_state(LABELS).model_dump(mode="json")
    data["params"]["temperature"]["value"] = 5.0
    with pytest.raises(ValueError, match="outside"):
        AgentState.model_validate(data)


def test_v010_heldout_accuracy_is_what_was_measured(tmp_path: Path) -> None:
    """The deliberately simple v0.1.0: nearest centroid on word unigrams (about 80% on
    BANKING77, 76% on HWU64; a task of the user's has no recorded number)."""
    task = datasets.task(PROJECT_ROOT)
    if task.name not in V010_HELDOUT:
        pytest.skip(f"no measured v0.1.0 accuracy for task {task.name}")
    if task.test_rows is None:  # a home's tree (the fast tier runs this suite in one)
        pytest.skip("the held-out split is not in this tree: only the full tier reads it")
    router = RouterFactory(FilesystemObjectStore(tmp_path), PROJECT_ROOT).build(
        default_state(LABELS).model_dump(mode="json")
    )
    arm = router.state.strategy.best()
    heldout = datasets.load(PROJECT_ROOT, "heldout")
    accuracy = sum(router.predict(e.text, arm).intent == e.intent for e in heldout) / len(heldout)
    low, high = V010_HELDOUT[task.name]
    assert arm == "centroid"
    assert low <= accuracy <= high


def test_models_are_trained_once_and_then_loaded(tmp_path: Path) -> None:
    store = FilesystemObjectStore(tmp_path)
    state = default_state(LABELS).model_dump(mode="json")
    first = RouterFactory(store, PROJECT_ROOT)
    first.build(state)
    state["params"]["temperature"]["value"] = 0.2  # needs no retraining
    first.build(state)
    second = RouterFactory(store, PROJECT_ROOT)  # a restart or a replica
    second.build(state)
    assert (first.trainings, second.trainings) == (1, 0)
    state["features"]["ngram_max"] = 2  # this one does
    second.build(state)
    assert second.trainings == 1
