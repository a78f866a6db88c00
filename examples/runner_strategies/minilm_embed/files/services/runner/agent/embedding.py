"""The ``minilm`` arm: a linear SVM over all-MiniLM-L6-v2 sentence embeddings.

Added by the examples template ``runner_strategies/minilm_embed``. Sentence
embeddings place paraphrases close together whatever their words ("my card
hasn't come" near "card not delivered yet"), which word n-grams cannot; a
one-vs-rest linear SVM on them separates a task's intents.

Two artifacts, both plain ``.npz`` loaded with ``allow_pickle=False``:

- the training set's embeddings, keyed by the model's fingerprint and the
  texts' content hash (the expensive part: minutes on two cores);
- the SVM head, keyed by this module's source and the data.

Both live in the fleet's object store and, because they are pure functions
of their keys, also in a machine-wide cache directory (``RATCHET_EMBEDDING_CACHE``,
default ``~/.cache/ratchet/embeddings``) that CI tiers share: each tier
starts with an empty store of its own, and must not re-embed thousands of texts.
"""

from __future__ import annotations

import functools
import hashlib
import io
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.svm import LinearSVC

from ratchet import datasets
from ratchet.datasets import Example
from ratchet.objects import ObjectStore
from ratchet.objects.artifacts import (  # noqa: F401 (re-exported for the template's users)
    CACHE_ENV,
    Artifacts,
    machine_cache,
    machine_cache_root,
)

from .minilm import MiniLM

PREFIX = "artifacts/runner-"  # + the encoder's name: artifacts/runner-minilm/...


def _digest(examples: tuple[Example, ...], with_labels: bool) -> str:
    data = hashlib.sha256()
    for example in examples:
        data.update(f"{example.intent if with_labels else ''}\t{example.text}\n".encode())
    return data.hexdigest()[:16]


def _npz(**arrays: NDArray[Any]) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def train_embeddings(
    encoder: MiniLM, artifacts: Artifacts, examples: tuple[Example, ...]
) -> tuple[NDArray[np.float32], bool]:
    """The examples' embeddings, cached by model and texts; True if computed now."""
    key = f"{PREFIX}{encoder.name}/embeddings/{encoder.fingerprint}/{_digest(examples, False)}.npz"
    cached = artifacts.get(key)
    if cached is not None:
        with np.load(io.BytesIO(cached), allow_pickle=False) as arrays:
            return np.asarray(arrays["embeddings"], dtype=np.float32), False
    vectors = encoder.encode([e.text for e in examples])
    artifacts.put_all(key, _npz(embeddings=vectors))
    return vectors, True


@dataclass(frozen=True)
class EmbeddingHead:
    labels: tuple[str, ...]
    encoder: MiniLM
    coef: NDArray[np.float32]  # (dimension, labels)
    intercept: NDArray[np.float64]  # (labels,)

    def scores_of(self, vector: NDArray[np.float32]) -> NDArray[np.float64]:
        scores: NDArray[np.float64] = vector @ self.coef + self.intercept
        return scores

    def scores(self, text: str) -> NDArray[np.float64]:
        """The SVM's decision value for every intent (higher: more likely)."""
        return self.scores_of(self.encoder.encode_one(text))


def train_head(
    vectors: NDArray[np.float32],
    examples: tuple[Example, ...],
    labels: tuple[str, ...],
    c: float,
) -> tuple[NDArray[np.float32], NDArray[np.float64]]:
    index = {label: i for i, label in enumerate(labels)}
    y = np.array([index[e.intent] for e in examples])
    svm = LinearSVC(C=c, random_state=0).fit(vectors, y)
    coef = np.zeros((vectors.shape[1], len(labels)), dtype=np.float32)
    intercept = np.full(len(labels), -np.inf)  # an intent with no example never wins
    coef[:, svm.classes_] = svm.coef_.T
    intercept[svm.classes_] = svm.intercept_
    return coef, intercept


def head_key(encoder: MiniLM, examples: tuple[Example, ...]) -> str:
    """Keyed by this module's source, the model and the data: other code never reuses it."""
    code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    trained = f"{encoder.fingerprint}/c{encoder.head_c}/{_digest(examples, True)}"
    return f"{PREFIX}{encoder.name}/head/{code}/{trained}.npz"


def load_or_train(
    artifacts: Artifacts, encoder: MiniLM, examples: tuple[Example, ...], labels: tuple[str, ...]
) -> tuple[EmbeddingHead, bool]:
    """The cached head, or one trained now (embedding the examples if needed); True if trained."""
    key = head_key(encoder, examples)
    head = _cached_head(artifacts, key, encoder, labels)
    if head is not None:
        return head, False
    with artifacts.training():
        head = _cached_head(artifacts, key, encoder, labels)  # trained while we waited?
        if head is not None:
            return head, False
        vectors, _ = train_embeddings(encoder, artifacts, examples)
        coef, intercept = train_head(vectors, examples, labels, encoder.head_c)
        arrays = _npz(labels=np.array(labels, dtype=np.str_), coef=coef, intercept=intercept)
        artifacts.put_all(key, arrays)
    return EmbeddingHead(labels, encoder, coef, intercept), True


def _cached_head(
    artifacts: Artifacts, key: str, encoder: MiniLM, labels: tuple[str, ...]
) -> EmbeddingHead | None:
    cached = artifacts.get(key)
    if cached is None:
        return None
    with np.load(io.BytesIO(cached), allow_pickle=False) as arrays:
        if tuple(str(label) for label in arrays["labels"]) != labels:
            return None
        coef = np.asarray(arrays["coef"], dtype=np.float32)
        intercept = np.asarray(arrays["intercept"], dtype=np.float64)
    return EmbeddingHead(labels, encoder, coef, intercept)


@functools.cache
def shared_encoder() -> MiniLM:
    """The process's one encoder: its weights never change, and each copy is ~150 MB.

    Every router factory (a Runner's, after a code swap; a test's runtime) would
    otherwise load its own, and a copy held in a reference cycle lives until the
    cyclic collector runs: a candidate's fast tier, whose Runner tests each build
    a runtime under an address-space cap, hit MemoryError after ten of them.
    """
    return MiniLM()


class EmbeddingCache:
    """The process's one head over ``encoder``: nothing depends on state, so it is loaded
    at most once. ``encoder`` makes (or returns) the process's shared encoder."""

    def __init__(
        self,
        store: ObjectStore,
        project_root: Path,
        encoder: Callable[[], MiniLM] = shared_encoder,
    ) -> None:
        self.artifacts = Artifacts(store)
        self.project_root = project_root
        self.encoder = encoder
        self._head: EmbeddingHead | None = None
        self._lock = threading.Lock()
        self.trained = False

    def get(self) -> EmbeddingHead:
        with self._lock:
            if self._head is None:
                labels = datasets.labels(self.project_root)
                scope = set(labels)  # a task's out-of-scope rows are no class to learn
                rows = datasets.load(self.project_root, "train")
                examples = tuple(e for e in rows if e.intent in scope)
                encoder = self.encoder()
                self._head, self.trained = load_or_train(self.artifacts, encoder, examples, labels)
            return self._head


MiniLMCache = EmbeddingCache  # the minilm arm's head (the default encoder)


def fill_machine_cache(encoder: Callable[[], MiniLM] = shared_encoder) -> None:
    """Train (or find) ``encoder``'s head for this checkout in the machine cache.

    The template coder runs it once in a candidate's worktree (a template's
    ``prepare``), so the candidate's tiers (each with an empty store and a time
    limit) load instead of train.
    """
    import time

    started = time.monotonic()
    cache = EmbeddingCache(machine_cache(), Path(__file__).resolve().parents[3], encoder)
    head = cache.get()
    verb = "trained" if cache.trained else "loaded"
    print(f"{head.encoder.name} head {verb} in {time.monotonic() - started:.1f} s")


def main() -> None:
    """``python -m services.runner.agent.embedding``: the minilm head into the machine cache."""
    fill_machine_cache()


if __name__ == "__main__":
    main()
