"""A checked task, its splits, and which task a code root serves.

A code root (the project, a home's workspace, a release's build) serves the
task named by ``tasks/active.json``; the task's folder is ``tasks/<name>/`` in
the same tree, so a release carries the data it was trained on. Its held-out
split (``test.csv``) is in the project's checkout and in a folder a user
brings, never in a home's trees: there the harness reads it from the home's
``heldout/`` folder (:mod:`ratchet.tasks.heldout`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ratchet.errors import NotFoundError
from ratchet.tasks.check import inspect
from ratchet.tasks.manifest import GOLDEN, REPLIES, IntentManifest
from ratchet.tasks.problems import TaskError
from ratchet.tasks.split import SPLITS, Split, is_dev, text_digest

TASKS_DIR = Path("tasks")
ACTIVE_FILE = TASKS_DIR / "active.json"
DRAWN_GOLDEN = 40  # golden cases drawn from train for a task that brings none


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    intent: str


@dataclass(frozen=True)
class Task:
    folder: Path
    manifest: IntentManifest
    labels: tuple[str, ...]  # the in-scope labels, in the declared (or sorted) order
    train_rows: tuple[Example, ...]  # all of train.csv: train and dev
    test_rows: tuple[Example, ...] | None  # None: test.csv is not in this tree

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def oos_label(self) -> str | None:
        return self.manifest.oos_label

    def examples(self, split: Split) -> tuple[Example, ...]:
        """The rows of one split, out-of-scope rows (label ``oos_label``) included."""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}: one of {', '.join(SPLITS)}")
        if split == "heldout":
            if self.test_rows is None:
                raise NotFoundError(
                    f"task {self.name}: the held-out split is not in this tree "
                    f"({self.folder}); the harness reads it from the home's heldout/ folder"
                )
            return self.test_rows
        return tuple(e for e in self.train_rows if is_dev(e.text) == (split == "dev"))

    def has_oos(self) -> bool:
        """True when some row is out of scope: only then may the agent abstain."""
        oos = self.oos_label
        return oos is not None and any(e.intent == oos for e in self.train_rows)

    def replies(self) -> dict[str, list[str]]:
        """Reply texts per label: ``replies.json``'s, else two plain ones."""
        path = self.folder / REPLIES
        given: dict[str, list[str]] = (
            json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        )
        return {label: given.get(label) or default_replies(label) for label in self.labels}

    def golden_cases(self) -> list[dict[str, str]]:
        """``golden.json``'s cases, else candidates drawn from train (one per label).

        The draw is deterministic (the row with the smallest text hash of each
        label, labels in hash order); whoever installs drawn cases keeps only
        those the first release routes right (:mod:`ratchet.tasks.workspace`).
        """
        path = self.folder / GOLDEN
        if path.is_file():
            cases: list[dict[str, str]] = json.loads(path.read_text(encoding="utf-8"))["cases"]
            return cases
        train = [e for e in self.examples("train") if e.intent in set(self.labels)]
        chosen: dict[str, Example] = {}
        for example in sorted(train, key=lambda e: text_digest(e.text)):
            chosen.setdefault(example.intent, example)
        ordered = sorted(chosen.values(), key=lambda e: text_digest(e.intent))
        return [{"text": e.text, "intent": e.intent} for e in ordered]

    def summary(self) -> dict[str, object]:
        """What ``ratchet status``, the Versions API and release metadata say of the task."""
        return {
            "name": self.name,
            "kind": self.manifest.kind,
            "labels": len(self.labels),
            "oos_label": self.oos_label,
            "train_rows": len(self.train_rows),
            "test_rows": None if self.test_rows is None else len(self.test_rows),
            "source": self.manifest.source,
            "licence": self.manifest.licence,
        }


def default_replies(label: str) -> list[str]:
    """Two neutral variants; the Tuner's preferences decide which one is suggested."""
    words = label.replace("_", " ")
    return [
        f"I can help with that: {words}.",
        f"Thanks for reaching out. Let's sort out your question about {words} together.",
    ]


def load_task(folder: Path, *, require_test: bool = False) -> Task:
    """The task in ``folder``; TaskError naming every problem if it has any.

    A served tree has no ``test.csv`` (its task's ``test_rows`` are None);
    ``require_test`` is for a task a user brings, whose splits are checked together.
    """
    found = inspect(folder, require_test=require_test)
    if not found.ok or found.manifest is None or found.train is None:
        raise TaskError(str(folder), found.problems)
    test = found.test
    return Task(
        folder,
        found.manifest,
        found.labels,
        tuple(Example(row.text, row.label) for row in found.train.rows),
        None if test is None else tuple(Example(row.text, row.label) for row in test.rows),
    )


def active_name(root: Path) -> str:
    """The name of the task ``root`` serves (``tasks/active.json``)."""
    path = root / ACTIVE_FILE
    if not path.is_file():
        raise NotFoundError(f"{root} serves no task: {ACTIVE_FILE} is missing")
    name: str = json.loads(path.read_text(encoding="utf-8"))["task"]
    return name


@cache
def _active(root: Path) -> Task:
    name = active_name(root)
    folder = root / TASKS_DIR / name
    if not folder.is_dir():
        raise NotFoundError(f"{root} names task {name!r} but {TASKS_DIR / name} is missing")
    return load_task(folder)


def active_task(root: Path) -> Task:
    """The task ``root`` serves, read once per process (a tree's task never changes)."""
    return _active(root.resolve())


def builtin_names(project_root: Path) -> tuple[str, ...]:
    """The tasks shipped in the project: folders of ``tasks/`` with a manifest."""
    folder = project_root / TASKS_DIR
    return tuple(sorted(p.parent.name for p in folder.glob("*/task.toml")))


def find_task(spec: str, project_root: Path) -> Path:
    """The folder ``spec`` names: a path to a task folder, or a built-in task's name."""
    path = Path(spec).expanduser()
    if path.is_dir():
        return path.resolve()
    if spec in builtin_names(project_root):
        return (project_root / TASKS_DIR / spec).resolve()
    names = ", ".join(builtin_names(project_root)) or "none"
    raise NotFoundError(f"no task {spec!r}: not a folder, nor a built-in task ({names})")
