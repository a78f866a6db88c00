"""What ``ratchet task check`` reports of a task: sizes, class balance, repeats.

Computed from an :class:`~ratchet.tasks.check.Inspection`, so it also describes
a task with problems (as far as its files could be read).
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field

from ratchet.tasks.check import Inspection
from ratchet.tasks.split import is_dev
from ratchet.tasks.table import Row, normalised

SPLIT_NAMES = ("train", "dev", "test")


@dataclass(frozen=True)
class Balance:
    """Rows per in-scope label in ``train.csv`` (train and dev together)."""

    least: int
    median: float
    most: int
    smallest: tuple[str, ...]  # the labels with ``least`` rows
    largest: tuple[str, ...]  # the labels with ``most`` rows


@dataclass(frozen=True)
class TaskSummary:
    name: str | None
    labels: int
    oos_label: str | None
    rows: dict[str, int] = field(default_factory=dict)  # per split, out-of-scope rows included
    oos_rows: dict[str, int] = field(default_factory=dict)
    balance: Balance | None = None
    duplicates: int = 0  # rows that repeat an earlier row of the same file
    leakage: int = 0  # test rows whose text is a training row's
    problems: int = 0
    warnings: int = 0

    def as_dict(self) -> dict[str, object]:
        balance = self.balance
        return {
            "name": self.name,
            "labels": self.labels,
            "oos_label": self.oos_label,
            "rows": self.rows,
            "oos_rows": self.oos_rows,
            "balance": None
            if balance is None
            else {
                "min": balance.least,
                "median": balance.median,
                "max": balance.most,
                "smallest": list(balance.smallest),
                "largest": list(balance.largest),
            },
            "duplicates": self.duplicates,
            "leakage": self.leakage,
            "problems": self.problems,
            "warnings": self.warnings,
        }


def summarize(found: Inspection) -> TaskSummary:
    """The summary of an inspected task (empty counts for what could not be read)."""
    manifest = found.manifest
    oos = manifest.oos_label if manifest else None
    train = found.train.rows if found.train else []
    test = found.test.rows if found.test else []
    splits: dict[str, list[Row]] = {
        "train": [row for row in train if not is_dev(row.text)],
        "dev": [row for row in train if is_dev(row.text)],
        "test": test,
    }
    return TaskSummary(
        name=manifest.name if manifest else None,
        labels=len(found.labels),
        oos_label=oos,
        rows={split: len(rows) for split, rows in splits.items()},
        oos_rows={
            split: sum(row.label == oos for row in rows) if oos else 0
            for split, rows in splits.items()
        },
        balance=balance(train, found.labels),
        duplicates=repeats(train) + repeats(test),
        leakage=leaked(train, test),
        problems=len(found.problems),
        warnings=len(found.warnings),
    )


def balance(rows: list[Row], labels: tuple[str, ...]) -> Balance | None:
    """Min, median and max rows per label, and which labels sit at the extremes."""
    if not labels:
        return None
    counts = Counter(row.label for row in rows)
    per_label = {label: counts.get(label, 0) for label in labels}
    least, most = min(per_label.values()), max(per_label.values())
    return Balance(
        least=least,
        median=statistics.median(per_label.values()),
        most=most,
        smallest=tuple(sorted(label for label, n in per_label.items() if n == least)),
        largest=tuple(sorted(label for label, n in per_label.items() if n == most)),
    )


def repeats(rows: list[Row]) -> int:
    """Rows whose (text, label) an earlier row of the same file already has."""
    seen = Counter((normalised(row.text), row.label) for row in rows)
    return sum(n - 1 for n in seen.values())


def leaked(train: list[Row], test: list[Row]) -> int:
    in_train = {normalised(row.text) for row in train}
    return sum(normalised(row.text) in in_train for row in test)
