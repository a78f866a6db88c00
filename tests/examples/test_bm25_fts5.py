"""Template ``runner_strategies/bm25_fts5``: indexes at once; mixed into v0.1.0's centroid
it scores dev above its floor."""

from __future__ import annotations

import numpy as np

from ratchet import datasets
from services.runner.agent.model import train
from services.runner.agent.state import Features
from tests.conftest import PROJECT_ROOT
from tests.examples.conftest import accuracy, template_module


def test_bm25_neighbours_beat_their_floor_on_dev() -> None:
    template, bm25 = template_module("runner_strategies/bm25_fts5", "services/runner/agent/bm25.py")
    labels = datasets.labels(PROJECT_ROOT)
    index = bm25.Bm25Index(PROJECT_ROOT)
    centroid = train(datasets.load(PROJECT_ROOT, "train"), labels, Features())

    def score(text: str) -> np.typing.NDArray[np.float64]:
        votes = index.scores(text, labels)
        mixed: np.typing.NDArray[np.float64] = bm25.blend(
            centroid.centroid_scores(centroid.vectorize(text)), votes
        )
        return mixed

    dev, ms = accuracy(score, "dev")
    assert dev >= template.test.min_dev_accuracy, dev
    assert abs(dev - template.measured.dev_accuracy) < 0.01, "update the template's metadata"
    assert ms < 30, f"{ms:.2f} ms per message"
    assert not index.scores("!!!", labels).any()  # no words: no votes, no error
    votes = index.scores("I want a disposable virtual card", labels)
    assert labels[int(np.argmax(votes))] == "get_disposable_virtual_card"
