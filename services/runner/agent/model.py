"""What the agent learns from data: TF-IDF vectors, class centroids, neighbours.

Trained once per (agent code, features, training data) and cached in the
object store as a plain ``.npz`` (arrays only, loaded with
``allow_pickle=False``: no code runs when a replica loads it).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from ratchet.datasets import Example
from ratchet.errors import ConflictError
from ratchet.objects import ObjectStore

from .scope import Scope
from .state import Features

ARTIFACT_PREFIX = "artifacts/runner"


@dataclass(frozen=True, slots=True)
class SparseRow:
    """A TF-IDF row as its non-zero columns and values."""

    columns: NDArray[np.int64]
    values: NDArray[np.float64]

    def toarray(self, width: int) -> NDArray[np.float64]:
        dense = np.zeros(width)
        dense[self.columns] = self.values
        return dense


@dataclass(frozen=True)
class TrainedModel:
    labels: tuple[str, ...]
    vectorizer: TfidfVectorizer
    centroids: NDArray[np.float32]  # (labels, vocabulary), rows L2-normalised
    examples: sp.csr_matrix  # (train examples, vocabulary), rows L2-normalised
    example_labels: NDArray[np.int32]
    # The task's out-of-scope label and reply when it has out-of-scope rows (not
    # stored in the artifact: the task the tree serves says it at load).
    scope: Scope | None = None
    # Serving-time forms, computed once: sklearn's per-call input checks and a
    # transpose per product would cost more than the scoring itself.
    analyze: Callable[[str], list[str]] = field(init=False, repr=False)
    vocabulary: dict[str, int] = field(init=False, repr=False)
    idf: NDArray[np.float64] = field(init=False, repr=False)
    centroids_t: NDArray[np.float32] = field(init=False, repr=False)
    examples_t: sp.csr_matrix = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "analyze", self.vectorizer.build_analyzer())
        object.__setattr__(self, "vocabulary", self.vectorizer.vocabulary_)
        object.__setattr__(self, "idf", np.asarray(self.vectorizer.idf_, dtype=np.float64))
        object.__setattr__(self, "centroids_t", np.ascontiguousarray(self.centroids.T))
        object.__setattr__(self, "examples_t", sp.csr_matrix(self.examples.T))

    def vectorize(self, text: str) -> SparseRow:
        """The TF-IDF row of ``text``: what ``vectorizer.transform`` gives, faster."""
        counts: dict[int, int] = {}
        for token in self.analyze(text):
            column = self.vocabulary.get(token)
            if column is not None:
                counts[column] = counts.get(column, 0) + 1
        columns = np.fromiter(counts, dtype=np.int64, count=len(counts))
        values = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        if self.vectorizer.sublinear_tf:
            values = np.log(values) + 1
        values *= self.idf[columns]
        norm = np.sqrt(values @ values)
        if norm > 0:
            values /= norm
        return SparseRow(columns, values)

    def centroid_scores(self, row: SparseRow) -> NDArray[np.float64]:
        """Cosine similarity of ``row`` to every intent's centroid."""
        scores: NDArray[np.float64] = row.values @ self.centroids_t[row.columns]
        return scores

    def example_similarities(self, row: SparseRow) -> NDArray[np.float64]:
        """Cosine similarity of ``row`` to every training example.

        A query has a handful of words, so summing the matching rows of the
        transposed example matrix beats a general sparse product.
        """
        matrix = self.examples_t
        starts, ends = matrix.indptr[row.columns], matrix.indptr[row.columns + 1]
        if not len(starts):
            return np.zeros(matrix.shape[1])
        spans = [np.arange(a, b) for a, b in zip(starts, ends, strict=True)]
        positions = np.concatenate(spans)
        weights = matrix.data[positions] * np.repeat(row.values, ends - starts)
        return np.asarray(
            np.bincount(matrix.indices[positions], weights=weights, minlength=matrix.shape[1]),
            dtype=np.float64,
        )


def _vectorizer(features: Features) -> TfidfVectorizer:
    return TfidfVectorizer(ngram_range=(1, features.ngram_max), sublinear_tf=features.sublinear_tf)


def train(
    examples: tuple[Example, ...],
    labels: tuple[str, ...],
    features: Features,
    scope: Scope | None = None,
) -> TrainedModel:
    """Vectors, centroids and neighbours of the in-scope ``examples``.

    Rows whose label is not in ``labels`` (the task's out-of-scope rows) are
    skipped: they belong to no class, and whether to abstain is the state's rule.
    """
    index = {label: i for i, label in enumerate(labels)}
    examples = tuple(e for e in examples if e.intent in index)
    vectorizer = _vectorizer(features)
    matrix = sp.csr_matrix(vectorizer.fit_transform([e.text for e in examples]))
    y = np.array([index[e.intent] for e in examples], dtype=np.int32)
    centroids = np.zeros((len(labels), matrix.shape[1]), dtype=np.float32)
    for k in range(len(labels)):
        rows = matrix[y == k]
        if rows.shape[0]:
            centroids[k] = np.asarray(rows.mean(axis=0)).ravel()
    centroids = normalize(centroids).astype(np.float32)
    return TrainedModel(labels, vectorizer, centroids, matrix, y, scope)


def to_bytes(model: TrainedModel, features: Features) -> bytes:
    vocabulary = model.vectorizer.vocabulary_
    terms = np.empty(len(vocabulary), dtype=object)
    for term, column in vocabulary.items():
        terms[column] = term
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        labels=np.array(model.labels, dtype=np.str_),
        terms=terms.astype(np.str_),
        idf=model.vectorizer.idf_,
        centroids=model.centroids,
        ex_data=model.examples.data,
        ex_indices=model.examples.indices,
        ex_indptr=model.examples.indptr,
        ex_shape=np.array(model.examples.shape),
        example_labels=model.example_labels,
        features=np.array([features.ngram_max, int(features.sublinear_tf)]),
    )
    return buffer.getvalue()


def from_bytes(raw: bytes, scope: Scope | None = None) -> TrainedModel:
    with np.load(io.BytesIO(raw), allow_pickle=False) as arrays:
        features = Features(
            ngram_max=int(arrays["features"][0]), sublinear_tf=bool(arrays["features"][1])
        )
        vectorizer = _vectorizer(features)
        vectorizer.vocabulary_ = {str(t): i for i, t in enumerate(arrays["terms"])}
        vectorizer.idf_ = arrays["idf"]
        examples = sp.csr_matrix(
            (arrays["ex_data"], arrays["ex_indices"], arrays["ex_indptr"]),
            shape=tuple(arrays["ex_shape"]),
        )
        return TrainedModel(
            labels=tuple(str(label) for label in arrays["labels"]),
            vectorizer=vectorizer,
            centroids=arrays["centroids"],
            examples=examples,
            example_labels=arrays["example_labels"],
            scope=scope,
        )


def code_fingerprint() -> str:
    """Hash of this package's source: a model is reused only by the code that built it."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def data_fingerprint(examples: tuple[Example, ...]) -> str:
    digest = hashlib.sha256()
    for example in examples:
        digest.update(f"{example.intent}\t{example.text}\n".encode())
    return digest.hexdigest()[:16]


def artifact_key(examples: tuple[Example, ...], features_key: str) -> str:
    return f"{ARTIFACT_PREFIX}/{code_fingerprint()}/{data_fingerprint(examples)}/{features_key}.npz"


def load_or_train(
    store: ObjectStore,
    examples: tuple[Example, ...],
    labels: tuple[str, ...],
    features: Features,
    features_key: str,
    scope: Scope | None = None,
) -> tuple[TrainedModel, bool]:
    """The cached model, or a freshly trained one (then cached); True if trained."""
    key = artifact_key(examples, features_key)
    cached = store.get_or_none(key)
    if cached is not None:
        return from_bytes(cached.data, scope), False
    model = train(examples, labels, features, scope)
    # Another replica may have cached the same model first; either copy serves.
    with contextlib.suppress(ConflictError):
        store.put_once(key, to_bytes(model, features))
    return model, True
