"""The splits: disjoint, stable, and no name that silently means another split."""

from __future__ import annotations

from typing import Any

import pytest

from ratchet import datasets
from ratchet.tasks import load_task
from tests.conftest import PROJECT_ROOT


def test_train_and_dev_partition_the_training_file_and_heldout_is_the_test_file() -> None:
    """Through the façade, on whichever task the tree serves."""
    task = datasets.task(PROJECT_ROOT)
    train, dev, heldout = (datasets.load(PROJECT_ROOT, s) for s in datasets.SPLITS)
    assert heldout == task.test_rows
    assert {e.text for e in train}.isdisjoint(e.text for e in dev)
    assert sorted(train + dev, key=repr) == sorted(task.train_rows, key=repr)
    assert 0.05 < len(dev) / (len(train) + len(dev)) < 0.3
    assert datasets.labels(PROJECT_ROOT) == task.labels


@pytest.mark.parametrize(
    ("name", "train_and_dev", "heldout", "labels"),
    [("banking77", 10003, 3080, 77), ("hwu64", 9960, 1076, 64)],
)
def test_the_built_in_tasks_have_their_published_rows_and_labels(
    name: str, train_and_dev: int, heldout: int, labels: int
) -> None:
    task = load_task(PROJECT_ROOT / "tasks" / name)
    train, dev = task.examples("train"), task.examples("dev")
    assert (task.name, len(task.labels), len(task.examples("heldout"))) == (name, labels, heldout)
    assert len(train) + len(dev) == train_and_dev
    assert {e.text for e in train}.isdisjoint(e.text for e in dev)
    assert 0.05 < len(dev) / train_and_dev < 0.3
    assert {e.intent for e in train} == set(task.labels)  # no oos rows: every row is in scope


@pytest.mark.parametrize("name", ["test", "Heldout", ""])
def test_an_unknown_split_is_refused_not_read_as_training_rows(name: Any) -> None:
    with pytest.raises(ValueError, match="unknown split"):
        datasets.load(PROJECT_ROOT, name)
