"""Template ``runner_strategies/tfidf_linear``: trains, beats its dev floor, caches as npz."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ratchet import datasets
from ratchet.objects import FilesystemObjectStore
from ratchet.objects.artifacts import CACHE_ENV
from tests.conftest import PROJECT_ROOT
from tests.examples.conftest import accuracy, template_module


def test_the_linear_head_beats_its_floor_on_dev_and_round_trips_without_pickle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "machine"))  # an empty machine cache: trains
    template, linear = template_module(
        "runner_strategies/tfidf_linear", "services/runner/agent/linear.py"
    )
    store = FilesystemObjectStore(tmp_path / "objects")
    train = datasets.load(PROJECT_ROOT, "train")
    labels = datasets.labels(PROJECT_ROOT)
    head, trained = linear.load_or_train(store, train, labels)
    assert trained
    dev, ms = accuracy(head.scores, "dev")
    assert dev >= template.test.min_dev_accuracy, dev
    assert abs(dev - template.measured.dev_accuracy) < 0.01, "update the template's metadata"
    assert ms < 5, f"{ms:.2f} ms per message"

    loaded, trained_again = linear.load_or_train(store, train, labels)
    assert not trained_again
    text = "my new card still has not been delivered"
    assert np.allclose(loaded.scores(text), head.scores(text), atol=1e-5)
    assert labels[int(np.argmax(loaded.scores(text)))] == "card_arrival"
