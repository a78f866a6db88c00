"""The splits: disjoint, stable, and no name that silently means another split."""

from __future__ import annotations

from typing import Any

import pytest

from ratchet import datasets
from tests.conftest import PROJECT_ROOT


def test_train_and_dev_partition_the_training_file_and_heldout_is_the_test_file() -> None:
    train, dev, heldout = (datasets.load(PROJECT_ROOT, s) for s in datasets.SPLITS)
    assert len(heldout) == 3080
    assert {e.text for e in train}.isdisjoint(e.text for e in dev)
    assert len(train) + len(dev) == 10003
    assert 0.1 < len(dev) / (len(train) + len(dev)) < 0.3


@pytest.mark.parametrize("name", ["test", "Heldout", ""])
def test_an_unknown_split_is_refused_not_read_as_training_rows(name: Any) -> None:
    with pytest.raises(ValueError, match="unknown split"):
        datasets.load(PROJECT_ROOT, name)
