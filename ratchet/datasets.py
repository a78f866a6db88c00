"""The splits of the task a code root serves: train and dev (carved from ``train.csv``), held-out.

Everything that trains, tunes, mines or judges reads its examples here, so
nothing names a particular task. ``heldout`` is for the full CI tier only;
nothing may tune on it. The task and its rules live in :mod:`ratchet.tasks`.
"""

from __future__ import annotations

from pathlib import Path

from ratchet.tasks.split import DEV_SHARE, SPLITS, Split, is_dev
from ratchet.tasks.task import Example, Task, active_task

__all__ = ["DEV_SHARE", "SPLITS", "Example", "Split", "is_dev", "labels", "load", "task"]


def task(project_root: Path) -> Task:
    """The task ``project_root`` serves."""
    return active_task(project_root)


def load(project_root: Path, split: Split) -> tuple[Example, ...]:
    """The examples of one split, out-of-scope rows included (cached per process).

    An unknown split name is an error: read as "not held-out" it would quietly
    be the training rows (a held-out score of 0.95 that is none)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: one of {', '.join(SPLITS)}")
    return active_task(project_root).examples(split)


def labels(project_root: Path) -> tuple[str, ...]:
    """The task's in-scope labels, in its declared order (a model's class order)."""
    return active_task(project_root).labels
