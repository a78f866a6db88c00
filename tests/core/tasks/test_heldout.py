"""The held-out vault: written once, read checked; a tree without test.csv still serves."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from ratchet.errors import ConflictError, NotFoundError
from ratchet.tasks import TaskError, inspect, load_task
from ratchet.tasks.heldout import (
    heldout_examples,
    heldout_file,
    heldout_rows,
    load_heldout,
    record_rows,
    recorded_rows,
    store_heldout,
)
from tests.helpers.file_access import watching
from tests.helpers.tasks import TEST_PER_LABEL, csv_text, rows, write_task


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_task(tmp_path / "tiny")


def served(folder: Path) -> Path:
    """``folder`` as a home's tree holds it: without its held-out split."""
    (folder / "test.csv").unlink()
    return folder


def test_the_vault_keeps_the_split_once_with_its_digest(tiny: Path, tmp_path: Path) -> None:
    vault = tmp_path / "home" / "heldout"
    task = load_task(tiny, require_test=True)
    assert store_heldout(vault, task) is True
    assert store_heldout(vault, task) is False  # the same bytes again: a re-run init
    kept = heldout_file(vault, "tiny")
    assert kept.read_bytes() == (tiny / "test.csv").read_bytes()
    source = json.loads((kept.parent / "source.json").read_text())
    assert source["sha256"] == hashlib.sha256(kept.read_bytes()).hexdigest()
    assert source["source"] == str(tiny / "test.csv")
    assert load_heldout(vault, task) == task.test_rows


def test_other_bytes_for_a_stored_task_are_refused(tiny: Path, tmp_path: Path) -> None:
    vault = tmp_path / "heldout"
    store_heldout(vault, load_task(tiny))
    before = heldout_file(vault, "tiny").read_bytes()
    (tiny / "test.csv").write_text(csv_text(rows(200, TEST_PER_LABEL)))
    with pytest.raises(ConflictError, match="never changes"):
        store_heldout(vault, load_task(tiny))
    assert heldout_file(vault, "tiny").read_bytes() == before


def test_a_vault_row_with_a_label_the_task_lacks_is_named(tiny: Path, tmp_path: Path) -> None:
    vault = tmp_path / "heldout"
    store_heldout(vault, load_task(tiny))
    path = heldout_file(vault, "tiny")
    path.write_text(path.read_text() + "my parcel went to mars,teleport\n")
    with pytest.raises(TaskError, match=r"test\.csv:11: 'teleport': not a label of task tiny"):
        load_heldout(vault, load_task(served(tiny)))


def test_a_tree_without_test_csv_loads_for_serving(tiny: Path, tmp_path: Path) -> None:
    task = load_task(served(tiny))
    assert task.test_rows is None and len(task.examples("train")) > 0
    assert task.summary()["test_rows"] is None
    with pytest.raises(NotFoundError, match="the held-out split is not in this tree"):
        task.examples("heldout")
    with pytest.raises(NotFoundError, match=r"tiny/test\.csv is missing"):
        heldout_examples(task, tmp_path / "empty-vault")
    assert heldout_rows(task, tmp_path / "empty-vault") is None


def test_task_check_and_init_still_require_test_csv(tiny: Path) -> None:
    served(tiny)
    found = inspect(tiny)  # `ratchet task check`: a task a user brings has both splits
    assert [str(p) for p in found.problems] == [
        "test.csv: missing: a task needs train.csv and test.csv"
    ]
    with pytest.raises(TaskError, match=r"test\.csv: missing"):
        load_task(tiny, require_test=True)


def test_the_row_count_is_read_from_the_record_without_opening_the_split(
    tiny: Path, tmp_path: Path
) -> None:
    """Counting is no reason to open the split (status, the Versions API, the baseline);
    a record written before counts were is given one, by reading the split once."""
    vault = tmp_path / "heldout"
    task = load_task(tiny, require_test=True)
    store_heldout(vault, task)
    served_task = load_task(served(tiny))
    assert task.test_rows is not None
    with watching([heldout_file(vault, "tiny")]) as watch:
        counted = heldout_rows(served_task, vault)
        opened = watch.drain()
    assert counted == len(task.test_rows) and opened == []

    record = heldout_file(vault, "tiny").parent / "source.json"
    document = json.loads(record.read_text())
    record.write_text(json.dumps({k: v for k, v in document.items() if k != "rows"}))
    assert recorded_rows(vault, "tiny") is None
    assert record_rows(vault, "tiny") is True and record_rows(vault, "tiny") is False
    assert json.loads(record.read_text()) == document
