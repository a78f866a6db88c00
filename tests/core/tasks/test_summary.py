"""``summarize``: what ``ratchet task check`` reports, computed without the CLI."""

from __future__ import annotations

from pathlib import Path

from ratchet.tasks import inspect
from ratchet.tasks.split import is_dev
from ratchet.tasks.summary import summarize
from tests.conftest import PROJECT_ROOT
from tests.helpers.tasks import BROKEN, rows, write_task


def test_rows_per_split_and_class_balance(tmp_path: Path) -> None:
    folder = write_task(tmp_path / "tiny")
    train = folder / "train.csv"
    train.write_text(train.read_text() + "".join(f"{t},login\n" for t, _ in rows(50, 4)[1::3]))
    summary = summarize(inspect(folder))
    dev = sum(is_dev(t) for t, _ in rows(0, 12) + rows(50, 4)[1::3])
    assert summary.rows == {"train": 40 - dev, "dev": dev, "test": 9}
    assert summary.labels == 3 and summary.oos_rows == {"train": 0, "dev": 0, "test": 0}
    balance = summary.balance
    assert balance is not None
    assert (balance.least, balance.median, balance.most) == (12, 12, 16)
    assert balance.smallest == ("billing", "shipping") and balance.largest == ("login",)


def test_out_of_scope_duplicates_and_leakage_are_counted(tmp_path: Path) -> None:
    folder = write_task(tmp_path / "tiny")
    manifest = folder / "task.toml"
    manifest.write_text(manifest.read_text() + 'oos_label = "oos"\n')
    with (folder / "test.csv").open("a") as test:
        test.write("tell me a joke,oos\nsing me a song,oos\n")
    BROKEN["duplicate row"][0](folder)
    BROKEN["leakage"][0](folder)
    summary = summarize(inspect(folder))
    assert summary.oos_label == "oos" and summary.oos_rows["test"] == 2
    assert (summary.duplicates, summary.leakage) == (1, 1)
    assert summary.problems == 2  # not accepted in task.toml


def test_a_task_without_a_manifest_is_summarised_as_empty(tmp_path: Path) -> None:
    folder = write_task(tmp_path / "tiny")
    (folder / "task.toml").unlink()
    summary = summarize(inspect(folder))
    assert summary.name is None and summary.balance is None and summary.problems == 1


def test_banking77_summary() -> None:
    summary = summarize(inspect(PROJECT_ROOT / "tasks" / "banking77"))
    assert summary.labels == 77 and summary.rows["test"] == 3080
    assert summary.rows["train"] + summary.rows["dev"] == 10003
    assert (summary.duplicates, summary.leakage) == (5, 7)
