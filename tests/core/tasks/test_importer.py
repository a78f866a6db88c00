"""``import_csv``: one CSV a user has, made into a task folder that passes its check."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from ratchet.tasks import TaskError, inspect, load_task
from ratchet.tasks.importer import ImportRequest, import_csv, stratified_split, task_name
from ratchet.tasks.table import Row
from tests.helpers.tasks import csv_text, rows, set_line


def user_csv(path: Path, oos: int = 0) -> Path:
    """A CSV as a user has it: its own column names, an extra column, out-of-scope rows."""
    records = rows(0, 15) + [(f"tell me a joke number {i} please", "OOS") for i in range(oos)]
    lines = csv_text(records, header=("utterance", "intent")).splitlines()
    extra = [f"{line},{i}" for i, line in enumerate(lines)]
    extra[0] = "utterance,intent,id"
    path.write_text("\n".join(extra) + "\n")
    return path


def request(source: Path, out: Path, **options: object) -> ImportRequest:
    return ImportRequest(source, "utterance", "intent", out, **options)  # type: ignore[arg-type]


def test_import_writes_a_task_that_passes_its_check(tmp_path: Path) -> None:
    made = import_csv(request(user_csv(tmp_path / "Support Tickets.csv"), tmp_path / "task"))
    assert made.name == "support-tickets" and made.labels == ("billing", "login", "shipping")
    found = inspect(tmp_path / "task")
    assert found.ok, found.problems
    manifest = found.manifest
    assert manifest is not None and manifest.source == "Support Tickets.csv"
    assert (manifest.text_column, manifest.label_column) == ("utterance", "intent")
    header = (tmp_path / "task" / "test.csv").read_text().splitlines()[0]
    assert header == "utterance,intent"


def test_the_split_is_stratified_with_the_share_per_label(tmp_path: Path) -> None:
    import_csv(request(user_csv(tmp_path / "in.csv"), tmp_path / "task", test_share=0.2))
    task = load_task(tmp_path / "task")
    for label in task.labels:
        assert sum(e.intent == label for e in task.examples("heldout")) == 3  # round(0.2 * 15)
        assert sum(e.intent == label for e in task.train_rows) == 12


def test_the_same_csv_gives_the_same_bytes_whatever_its_row_order(tmp_path: Path) -> None:
    source = user_csv(tmp_path / "in.csv", oos=6)
    import_csv(request(source, tmp_path / "a", oos_label="OOS"))
    import_csv(request(source, tmp_path / "b", oos_label="OOS"))
    lines = source.read_text().splitlines()
    shuffled = tmp_path / "shuffled" / "in.csv"
    shuffled.parent.mkdir()
    shuffled.write_text("\n".join([lines[0], *reversed(lines[1:])]) + "\n")
    import_csv(request(shuffled, tmp_path / "c", oos_label="OOS"))
    for name in ("task.toml", "train.csv", "test.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    tests = [sorted((tmp_path / d / "test.csv").read_text().splitlines()) for d in "ac"]
    assert tests[0] == tests[1]  # the same rows held out; only the row order follows the input


def test_out_of_scope_rows_keep_their_label_in_both_splits(tmp_path: Path) -> None:
    import_csv(request(user_csv(tmp_path / "in.csv", oos=10), tmp_path / "t", oos_label="OOS"))
    task = load_task(tmp_path / "t")
    assert task.oos_label == "OOS" and "OOS" not in task.labels and task.has_oos()
    assert sum(e.intent == "OOS" for e in task.examples("heldout")) == 2
    assert sum(e.intent == "OOS" for e in task.train_rows) == 8


def test_each_label_with_two_rows_holds_out_at_least_one() -> None:
    group = [Row(i + 2, f"text {i}", "a") for i in range(3)] + [Row(9, "only", "b")]
    train, test = stratified_split(group, 0.1)
    assert [r.label for r in test] == ["a"] and len(train) == 3


@pytest.mark.parametrize(
    ("defect", "where"),
    [
        (lambda p: set_line(p, 4, ",login,3"), "in.csv:4: empty text"),
        (lambda p: set_line(p, 1, "text,intent,id"), "in.csv:1: wrong columns"),
        (lambda p: set_line(p, 5, f"{p.read_text().splitlines()[1]}"), "in.csv:5: duplicate row"),
        (lambda p: set_line(p, 7, "a,b,c,d"), "in.csv:7: 4 fields"),
    ],
)
def test_a_bad_csv_is_refused_by_line_and_nothing_is_written(
    tmp_path: Path, defect: object, where: str
) -> None:
    source = user_csv(tmp_path / "in.csv")
    defect(source)  # type: ignore[operator]
    with pytest.raises(TaskError) as raised:
        import_csv(request(source, tmp_path / "out" / "task"))
    assert where in str(raised.value)
    assert not (tmp_path / "out").exists()


def test_a_label_too_small_for_a_training_share_is_named(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(csv_text(rows(0, 15) + [("weather today", "weather")] * 1, ("u", "i")))
    with pytest.raises(TaskError) as raised:
        import_csv(ImportRequest(source, "u", "i", tmp_path / "task"))
    assert "in.csv:47: label 'weather' has 1 rows: 1 left for train.csv" in str(raised.value)
    assert not (tmp_path / "task").exists()


def test_an_out_folder_with_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "task").mkdir()
    (tmp_path / "task" / "notes.txt").write_text("mine")
    with pytest.raises(TaskError, match="exists and is not an empty folder"):
        import_csv(request(user_csv(tmp_path / "in.csv"), tmp_path / "task"))
    assert [p.name for p in (tmp_path / "task").iterdir()] == ["notes.txt"]


def test_an_empty_out_folder_is_filled(tmp_path: Path) -> None:
    (tmp_path / "task").mkdir()
    import_csv(request(user_csv(tmp_path / "in.csv"), tmp_path / "task"))
    assert sorted(p.name for p in (tmp_path / "task").iterdir()) == [
        "task.toml",
        "test.csv",
        "train.csv",
    ]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_bad_options_are_refused(tmp_path: Path) -> None:
    source = user_csv(tmp_path / "in.csv")
    with pytest.raises(TaskError) as raised:
        import_csv(request(source, tmp_path / "t", test_share=1.5, name="Bad Name"))
    assert "--test-share" in str(raised.value) and "--name" in str(raised.value)


def test_texts_with_commas_quotes_and_line_breaks_survive(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    records = rows(0, 15)
    records[0] = ('my "invoice", again,\nand a new line', "billing")
    source.write_text(csv_text(records, ("u", "i")))
    import_csv(ImportRequest(source, "u", "i", tmp_path / "t", name="quoted"))
    texts = [row[0] for row in csv.reader((tmp_path / "t" / "train.csv").open())]
    texts += [row[0] for row in csv.reader((tmp_path / "t" / "test.csv").open())]
    assert 'my "invoice", again,\nand a new line' in texts


def test_task_name_from_a_file_name() -> None:
    assert task_name(Path("My Support_Tickets (2024).csv")) == "my-support_tickets-2024"
