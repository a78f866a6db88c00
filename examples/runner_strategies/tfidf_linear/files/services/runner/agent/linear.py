"""The ``linear`` arm: a linear SVM over TF-IDF word and character n-grams.

Added by the examples template ``runner_strategies/tfidf_linear``. Word
unigrams and bigrams catch phrasing ("not arrived"), character n-grams within
word boundaries catch spelling and morphology ("deliver", "delivery"); a
one-vs-rest linear SVM separates the task's intents far better than cosine to
a centroid. Self-contained: the hooks in ``build.py`` and ``router.py`` only
call :class:`LinearCache` and :meth:`LinearHead.scores`.

Trained once per (this module's code, training data) and cached in the object
store as plain ``.npz`` arrays, loaded with ``allow_pickle=False``.
"""

from __future__ import annotations

import hashlib
import io
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from ratchet import datasets
from ratchet.datasets import Example
from ratchet.objects import ObjectStore
from ratchet.objects.artifacts import Artifacts

ARTIFACT_PREFIX = "artifacts/runner-linear"
C = 0.5  # dev 0.9075 / held-out 0.9114 at 0.5; 1.0 gives 0.9075 / 0.9091
BLOCKS: dict[str, dict[str, Any]] = {
    "word": {"ngram_range": (1, 2), "sublinear_tf": True},
    "char": {"analyzer": "char_wb", "ngram_range": (2, 5), "min_df": 2, "sublinear_tf": True},
}


@dataclass(frozen=True)
class Block:
    """One TF-IDF feature block, in the form serving needs (no sklearn call per request)."""

    name: str
    vocabulary: dict[str, int]
    idf: NDArray[np.float64]
    analyze: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        analyzer = TfidfVectorizer(**BLOCKS[self.name]).build_analyzer()
        object.__setattr__(self, "analyze", analyzer)

    def row(self, text: str) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Columns and L2-normalised sublinear TF-IDF values: ``transform``, faster."""
        counts: dict[int, int] = {}
        for token in self.analyze(text):
            column = self.vocabulary.get(token)
            if column is not None:
                counts[column] = counts.get(column, 0) + 1
        columns = np.fromiter(counts, dtype=np.int64, count=len(counts))
        values = np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts))) + 1
        values *= self.idf[columns]
        norm = np.sqrt(values @ values)
        if norm > 0:
            values /= norm
        return columns, values


@dataclass(frozen=True)
class LinearHead:
    labels: tuple[str, ...]
    blocks: tuple[Block, ...]
    coef: NDArray[np.float32]  # (features of every block, in order, labels)
    intercept: NDArray[np.float64]  # (labels,)
    offsets: tuple[int, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        sizes = [len(block.vocabulary) for block in self.blocks]
        object.__setattr__(self, "offsets", tuple(int(x) for x in np.cumsum([0, *sizes[:-1]])))

    def scores(self, text: str) -> NDArray[np.float64]:
        """The SVM's decision value for every intent (higher: more likely)."""
        total = self.intercept.copy()
        for block, offset in zip(self.blocks, self.offsets, strict=True):
            columns, values = block.row(text)
            total += values @ self.coef[columns + offset]
        return total


def train(examples: tuple[Example, ...], labels: tuple[str, ...]) -> LinearHead:
    import scipy.sparse as sp

    texts = [e.text for e in examples]
    index = {label: i for i, label in enumerate(labels)}
    y = np.array([index[e.intent] for e in examples])
    matrices, blocks = [], []
    for name, options in BLOCKS.items():
        vectorizer = TfidfVectorizer(**options)
        matrices.append(vectorizer.fit_transform(texts))
        vocabulary = {str(term): int(column) for term, column in vectorizer.vocabulary_.items()}
        blocks.append(Block(name, vocabulary, np.asarray(vectorizer.idf_, dtype=np.float64)))
    svm = LinearSVC(C=C, random_state=0).fit(sp.hstack(matrices).tocsr(), y)
    coef = np.zeros((sum(m.shape[1] for m in matrices), len(labels)), dtype=np.float32)
    intercept = np.full(len(labels), -np.inf)  # an intent with no example never wins
    coef[:, svm.classes_] = svm.coef_.T
    intercept[svm.classes_] = svm.intercept_
    return LinearHead(labels, tuple(blocks), coef, intercept)


def to_bytes(head: LinearHead) -> bytes:
    arrays: dict[str, NDArray[Any]] = {
        "labels": np.array(head.labels, dtype=np.str_),
        "coef": head.coef,
        "intercept": head.intercept,
    }
    for block in head.blocks:
        terms = sorted(block.vocabulary, key=block.vocabulary.__getitem__)
        arrays[f"{block.name}_terms"] = np.array(terms, dtype=np.str_)
        arrays[f"{block.name}_idf"] = block.idf
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def from_bytes(raw: bytes) -> LinearHead:
    with np.load(io.BytesIO(raw), allow_pickle=False) as arrays:
        blocks = tuple(
            Block(
                name,
                {str(t): i for i, t in enumerate(arrays[f"{name}_terms"])},
                np.asarray(arrays[f"{name}_idf"], dtype=np.float64),
            )
            for name in BLOCKS
        )
        return LinearHead(
            labels=tuple(str(label) for label in arrays["labels"]),
            blocks=blocks,
            coef=np.asarray(arrays["coef"], dtype=np.float32),
            intercept=np.asarray(arrays["intercept"], dtype=np.float64),
        )


def artifact_key(examples: tuple[Example, ...]) -> str:
    """Keyed by this module's source and the training data: other code never reuses it."""
    code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    data = hashlib.sha256()
    for example in examples:
        data.update(f"{example.intent}\t{example.text}\n".encode())
    return f"{ARTIFACT_PREFIX}/{code}/{data.hexdigest()[:16]}.npz"


def load_or_train(
    store: ObjectStore, examples: tuple[Example, ...], labels: tuple[str, ...]
) -> tuple[LinearHead, bool]:
    """The cached head (the fleet's store, else the machine's), or a freshly trained one
    (then cached in both); True if trained. Processes starting together train once."""
    key = artifact_key(examples)
    artifacts = Artifacts(store)
    cached = artifacts.get(key)
    if cached is None:
        with artifacts.training():
            cached = artifacts.get(key)
            if cached is None:
                head = train(examples, labels)
                artifacts.put_all(key, to_bytes(head))
                return head, True
    return from_bytes(cached), False


class LinearCache:
    """The process's one head: nothing depends on state, so it is loaded at most once."""

    def __init__(self, store: ObjectStore, project_root: Path) -> None:
        self.store = store
        self.project_root = project_root
        self._head: LinearHead | None = None
        self._lock = threading.Lock()
        self.trained = False

    def get(self) -> LinearHead:
        with self._lock:
            if self._head is None:
                examples = datasets.load(self.project_root, "train")
                labels = datasets.labels(self.project_root)
                self._head, self.trained = load_or_train(self.store, examples, labels)
            return self._head
