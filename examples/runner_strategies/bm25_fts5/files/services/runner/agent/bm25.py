"""The ``bm25`` arm: BM25 nearest neighbours over the training examples (SQLite FTS5).

Added by the examples template ``runner_strategies/bm25_fts5``. Each message
is an OR-query of its words against an in-memory FTS5 index of the training
examples (Porter stemming); the best ``K`` matches vote for their intent,
weighted by their BM25 score. Rare, decisive words ("disposable", "PIN")
weigh more than common ones, which nearest centroid cannot express. The arm
mixes the votes into the centroid's scores (:func:`blend`): BM25 alone
misroutes short, generic messages that the centroid gets right (4 of the 40
golden cases; dev 0.8346 alone, 0.8612 mixed).

Nothing to cache: indexing the ~9,000 training examples takes tens of
milliseconds, so the index is rebuilt in-process at start (pickle-free).
"""

from __future__ import annotations

import re
import sqlite3
import threading
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ratchet import datasets

K = 10  # neighbours that vote: dev 0.8346 at 10, 0.8219 at 5, 0.8356 at 20 (votes alone)
WEIGHT = 0.3  # share of the votes in the mix: dev 0.8612 at 0.3, 0.8553 at 0.5, 0.8455 at 0.7
_WORD = re.compile(r"[a-z0-9]+")


class Bm25Index:
    """Built on first use; one SQLite connection behind a lock (queries take ~ms)."""

    def __init__(self, project_root: Path) -> None:
        self.project_root = project_root
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._labels: tuple[str, ...] = ()
        self._example_labels: NDArray[np.int64] = np.zeros(0, dtype=np.int64)

    def _build(self) -> sqlite3.Connection:
        self._labels = datasets.labels(self.project_root)
        index = {label: i for i, label in enumerate(self._labels)}
        # Out-of-scope rows vote for no intent: the router's abstain rule decides.
        examples = [e for e in datasets.load(self.project_root, "train") if e.intent in index]
        self._example_labels = np.array([index[e.intent] for e in examples], dtype=np.int64)
        db = sqlite3.connect(":memory:", check_same_thread=False)
        db.execute("CREATE VIRTUAL TABLE ex USING fts5(text, tokenize='porter unicode61')")
        db.executemany(
            "INSERT INTO ex(rowid, text) VALUES (?, ?)",
            [(i, e.text) for i, e in enumerate(examples)],
        )
        return db

    def scores(self, text: str, labels: tuple[str, ...]) -> NDArray[np.float64]:
        """Each intent's share of the neighbours' BM25 votes (zeros when nothing matches)."""
        terms = sorted(set(_WORD.findall(text.lower())))
        with self._lock:
            if self._db is None:
                self._db = self._build()
            if self._labels != labels:
                raise ValueError("the BM25 index and the model disagree on the intents")
            rows = (
                self._db.execute(
                    "SELECT rowid, bm25(ex) FROM ex WHERE ex MATCH ? ORDER BY bm25(ex) LIMIT ?",
                    (" OR ".join(f'"{t}"' for t in terms), K),
                ).fetchall()
                if terms
                else []
            )
        votes = np.zeros(len(labels))
        for rowid, score in rows:
            votes[self._example_labels[rowid]] -= score  # FTS5's bm25() is lower-is-better
        total = votes.sum()
        return votes / total if total > 0 else votes


def blend(centroid: NDArray[np.float64], votes: NDArray[np.float64]) -> NDArray[np.float64]:
    """The arm's scores: the centroid's cosines with a share of the BM25 votes."""
    return (1 - WEIGHT) * centroid + WEIGHT * votes
