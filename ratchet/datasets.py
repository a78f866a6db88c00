"""BANKING77 and its splits: train and dev carved from ``train.csv``, held-out test.

The split rule lives in the static core so that no candidate can move
examples between splits: an example is **dev** when the SHA-256 of its text
falls in the first tenth of the hash space, independent of row order.
``heldout`` is for the full CI tier only; nothing may tune on it.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from ratchet.errors import NotFoundError

Split = Literal["train", "dev", "heldout"]
SPLITS: tuple[Split, ...] = ("train", "dev", "heldout")
DATASET_DIR = Path("tests") / "datasets" / "banking77"
DEV_SHARE = 10  # one example in DEV_SHARE goes to dev


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    intent: str


def dataset_dir(project_root: Path) -> Path:
    path = project_root / DATASET_DIR
    if not (path / "train.csv").exists():
        raise NotFoundError(f"BANKING77 is missing: expected {path}/train.csv")
    return path


def is_dev(text: str) -> bool:
    digest = hashlib.sha256(text.encode()).digest()
    return int.from_bytes(digest[:8], "big") % DEV_SHARE == 0


def _read(path: Path) -> tuple[Example, ...]:
    with path.open(newline="", encoding="utf-8") as handle:
        return tuple(
            Example(row["text"].strip(), row["category"]) for row in csv.DictReader(handle)
        )


@cache
def _load(root: Path, split: Split) -> tuple[Example, ...]:
    directory = dataset_dir(root)
    if split == "heldout":
        return _read(directory / "test.csv")
    rows = _read(directory / "train.csv")
    return tuple(e for e in rows if is_dev(e.text) == (split == "dev"))


def load(project_root: Path, split: Split) -> tuple[Example, ...]:
    """The examples of one split (cached per process; the files never change).

    An unknown split name is an error: read as "not held-out" it would quietly
    be the training rows (a held-out score of 0.95 that is none)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: one of {', '.join(SPLITS)}")
    return _load(project_root.resolve(), split)


@cache
def labels(project_root: Path) -> tuple[str, ...]:
    """The 77 intent names, in the dataset's order."""
    names: list[str] = json.loads((dataset_dir(project_root) / "categories.json").read_text())
    return tuple(names)
