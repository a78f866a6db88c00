"""A tiny valid intent task written on demand, for tests to break one way at a time."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

# Three labels with words of their own, so a model can learn them.
WORDS = {
    "billing": ("invoice", "charge", "refund", "payment"),
    "login": ("password", "sign", "account", "locked"),
    "shipping": ("parcel", "delivery", "courier", "tracking"),
}
TRAIN_PER_LABEL = 12
TEST_PER_LABEL = 3

MANIFEST = """name = "tiny"
kind = "intent"
description = "Three support intents, for tests."
text_column = "text"
label_column = "label"
labels = ["billing", "login", "shipping"]
"""


def text(label: str, index: int) -> str:
    first, second, third, fourth = WORDS[label]
    return f"my {first} and {second} question {index} about the {(third, fourth)[index % 2]}"


def rows(start: int, count: int) -> list[tuple[str, str]]:
    """``count`` rows per label, interleaved by label, numbered from ``start``."""
    return [(text(label, start + i), label) for i in range(count) for label in WORDS]


def csv_text(records: list[tuple[str, str]], header: tuple[str, str] = ("text", "label")) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(records)
    return buffer.getvalue()


def write_task(folder: Path) -> Path:
    """A valid task: 3 labels, 12 training and 3 test rows each (train.csv line 2 on)."""
    folder.mkdir(parents=True)
    (folder / "task.toml").write_text(MANIFEST)
    (folder / "train.csv").write_text(csv_text(rows(0, TRAIN_PER_LABEL)))
    (folder / "test.csv").write_text(csv_text(rows(100, TEST_PER_LABEL)))
    return folder


def set_line(path: Path, line: int, content: str) -> None:
    """Replace line ``line`` (1-based) of a text file."""
    lines = path.read_text().split("\n")
    lines[line - 1] = content
    path.write_text("\n".join(lines))


def _rewrite(path: Path, old: str, new: str) -> None:
    content = path.read_text()
    assert old in content, (path, old)
    path.write_text(content.replace(old, new, 1))


def _append(path: Path, line: str) -> None:
    path.write_text(path.read_text() + line + "\n")


def _few_rows(folder: Path) -> None:
    kept = [r for i, r in enumerate(rows(0, TRAIN_PER_LABEL)) if r[1] != "shipping" or i < 12]
    (folder / "train.csv").write_text(csv_text(kept))  # shipping keeps 4 rows, from line 4


def _multiline_then_empty(folder: Path) -> None:
    records = rows(0, TRAIN_PER_LABEL)
    records[0] = ("my invoice\nspans two lines", "billing")  # lines 2-3
    records[3] = ("", "billing")  # the fourth row: line 6 in an editor
    (folder / "train.csv").write_text(csv_text(records))


def _bad_bytes(path: Path, line: int) -> None:
    lines = path.read_bytes().split(b"\n")
    lines[line - 1] = b"caf\xe9 invoice question,billing"
    path.write_bytes(b"\n".join(lines))


GOLDEN = """{
  "cases": [
    {
      "text": "my invoice is wrong",
      "intent": "billing"
    },
    {
      "text": "will it rain",
      "intent": "weather"
    }
  ]
}
"""
REPLIES = '{\n  "billing": ["Sure, let us look at the bill."],\n  "weather": ["Sunny."]\n}\n'


def _undeclared(folder: Path) -> None:
    _rewrite(folder / "task.toml", 'labels = ["billing", "login", "shipping"]\n', "")
    set_line(folder / "test.csv", 3, "my refund question,refunds")


def _declared_untrained(folder: Path) -> None:
    _rewrite(folder / "task.toml", '"shipping"]', '"shipping", "refunds"]')
    set_line(folder / "test.csv", 4, "a refund request for my order,refunds")


# name -> (how to break the tiny task, file named, line named (None: the whole file), message)
BROKEN: dict[str, tuple[Callable[[Path], object], str, int | None, str]] = {
    "empty text": (
        lambda f: set_line(f / "train.csv", 5, ",billing"),
        "train.csv",
        5,
        "empty text",
    ),
    "empty label": (
        lambda f: set_line(f / "train.csv", 9, "where is my stuff,"),
        "train.csv",
        9,
        "empty label",
    ),
    "test label train lacks": (_undeclared, "test.csv", 3, "not a label of train.csv"),
    "declared label train lacks": (
        _declared_untrained,
        "test.csv",
        4,
        "train.csv has no row of this label",
    ),
    "label outside the declared set": (
        lambda f: set_line(f / "train.csv", 7, "my invoice is odd today,nonsense"),
        "train.csv",
        7,
        "'nonsense': not a declared label",
    ),
    "too few rows per label": (_few_rows, "train.csv", 4, "label 'shipping' has 4 rows"),
    "duplicate row": (
        lambda f: _append(f / "train.csv", f"{text('login', 0)},login"),
        "train.csv",
        38,
        "duplicate row: same as line 3",
    ),
    "same text, two labels": (
        lambda f: _append(f / "train.csv", f"{text('billing', 0)},login"),
        "train.csv",
        38,
        "same text as line 2 with another label",
    ),
    "leakage": (
        lambda f: set_line(f / "test.csv", 2, f"{text('billing', 0)},billing"),
        "test.csv",
        2,
        "leakage: the same text is train.csv:2",
    ),
    "wrong columns": (
        lambda f: set_line(f / "train.csv", 1, "message,label"),
        "train.csv",
        1,
        "wrong columns",
    ),
    "non-UTF-8 bytes": (lambda f: _bad_bytes(f / "train.csv", 6), "train.csv", 6, "not UTF-8"),
    "too many fields": (
        lambda f: set_line(f / "train.csv", 8, "my parcel, the courier,shipping"),
        "train.csv",
        8,
        "3 fields where the header has 2",
    ),
    "line numbers count a quoted line break": (
        _multiline_then_empty,
        "train.csv",
        6,
        "empty text",
    ),
    "unknown manifest key": (
        lambda f: _append(f / "task.toml", 'colour = "red"'),
        "task.toml",
        7,
        "colour: unknown setting",
    ),
    "bad TOML": (
        lambda f: _rewrite(f / "task.toml", 'name = "tiny"', 'name = "tiny'),
        "task.toml",
        1,
        "not valid TOML",
    ),
    "manifest not UTF-8": (
        lambda f: (f / "task.toml").write_bytes(MANIFEST.encode().replace(b"Three", b"Thr\xe9e")),
        "task.toml",
        3,
        "not UTF-8",
    ),
    "missing name": (
        lambda f: _rewrite(f / "task.toml", 'name = "tiny"\n', ""),
        "task.toml",
        None,
        "name: required",
    ),
    "unknown kind": (
        lambda f: _rewrite(f / "task.toml", 'kind = "intent"', 'kind = "retrieval"'),
        "task.toml",
        2,
        "unknown kind",
    ),
    "missing train.csv": (lambda f: (f / "train.csv").unlink(), "train.csv", None, "missing"),
    "oos label among the labels": (
        lambda f: _rewrite(f / "task.toml", "labels =", 'oos_label = "login"\nlabels ='),
        "task.toml",
        7,
        "may not hold the `oos_label`",
    ),
    "replies for an unknown label": (
        lambda f: (f / "replies.json").write_text(REPLIES),
        "replies.json",
        3,
        "'weather': not a label of the task",
    ),
    "golden case of an unknown label": (
        lambda f: (f / "golden.json").write_text(GOLDEN),
        "golden.json",
        9,
        "case 1: 'weather' is not a label",
    ),
}
