"""``inspect``: every defect of a task folder, named by file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from ratchet.tasks import Problem, TaskError, inspect, load_task
from tests.helpers.tasks import BROKEN, csv_text, rows, text, write_task


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_task(tmp_path / "tiny")


def test_the_tiny_task_is_valid(tiny: Path) -> None:
    found = inspect(tiny)
    assert found.ok, found.problems
    assert found.labels == ("billing", "login", "shipping")


@pytest.mark.parametrize("defect", sorted(BROKEN))
def test_each_defect_is_named_by_file_and_line(tiny: Path, defect: str) -> None:
    breaks, file, line, message = BROKEN[defect]
    breaks(tiny)
    found = inspect(tiny)
    assert not found.ok
    named = [p for p in found.problems if p.file == file and p.line == line]
    assert any(message in p.message for p in named), found.problems


@pytest.mark.parametrize("defect", ["empty text", "unknown kind", "replies for an unknown label"])
def test_load_task_refuses_with_every_problem(tiny: Path, defect: str) -> None:
    breaks, file, line, _ = BROKEN[defect]
    breaks(tiny)
    with pytest.raises(TaskError) as raised:
        load_task(tiny)
    where = file if line is None else f"{file}:{line}"
    assert f"  {where}: " in str(raised.value)
    assert raised.value.problems == tuple(inspect(tiny).problems)


def test_every_bad_line_is_reported_not_only_the_first(tiny: Path) -> None:
    for breaks in (BROKEN["empty text"][0], BROKEN["too many fields"][0]):
        breaks(tiny)
    BROKEN["leakage"][0](tiny)
    lines = {(p.file, p.line) for p in inspect(tiny).problems}
    assert {("train.csv", 5), ("train.csv", 8), ("test.csv", 2)} <= lines


def test_accepted_duplicates_and_leakage_are_warnings(tiny: Path) -> None:
    BROKEN["duplicate row"][0](tiny)
    BROKEN["leakage"][0](tiny)
    manifest = tiny / "task.toml"
    manifest.write_text(manifest.read_text() + 'accept = ["duplicates", "leakage"]\n')
    found = inspect(tiny)
    assert found.ok, found.problems
    assert {(w.file, w.line) for w in found.warnings} >= {("train.csv", 38), ("test.csv", 2)}


def test_a_utf8_file_may_hold_the_replacement_character(tiny: Path) -> None:
    # Only rows whose bad bytes were replaced are skipped, not a real U+FFFD.
    train = tiny / "train.csv"
    train.write_text(
        train.read_text() + "my invoice shows \ufffd signs,billing\n", encoding="utf-8"
    )
    found = inspect(tiny)
    assert found.ok, found.problems
    assert found.train is not None and found.train.rows[-1].text.endswith("\ufffd signs")


def test_a_single_declared_label_is_refused(tiny: Path) -> None:
    manifest = tiny / "task.toml"
    manifest.write_text(
        manifest.read_text().replace('["billing", "login", "shipping"]', '["billing"]')
    )
    found = inspect(tiny)
    assert [(p.file, p.line) for p in found.problems] == [("task.toml", 6)]
    assert "at least two labels" in found.problems[0].message


def test_a_missing_folder_is_a_problem(tmp_path: Path) -> None:
    found = inspect(tmp_path / "nowhere")
    assert found.problems == [Problem(str(tmp_path / "nowhere"), None, "not a folder")]


@pytest.mark.parametrize("name", ["banking77", "hwu64"])
def test_the_builtin_tasks_pass_with_warnings_only(name: str) -> None:
    from tests.conftest import PROJECT_ROOT

    found = inspect(PROJECT_ROOT / "tasks" / name)
    assert found.ok, found.problems[:5]
    assert found.warnings  # their published splits repeat a few rows, accepted in task.toml
    assert {w.message.split(":")[0] for w in found.warnings} <= {"duplicate row", "leakage"}


def test_a_train_csv_with_one_label_is_refused(tiny: Path) -> None:
    manifest = tiny / "task.toml"
    manifest.write_text(manifest.read_text().split("labels =")[0])  # labels from train.csv
    billing = [r for r in rows(0, 12) if r[1] == "billing"]
    (tiny / "train.csv").write_text(csv_text(billing))
    (tiny / "test.csv").write_text(csv_text([(text("billing", 99), "billing")]))
    problems = inspect(tiny).problems
    assert [(p.file, p.line, p.message) for p in problems] == [
        ("train.csv", None, "1 label(s): a task needs two or more")
    ]


def test_a_declared_label_with_spaces_around_it_is_refused(tiny: Path) -> None:
    manifest = tiny / "task.toml"
    manifest.write_text(manifest.read_text().replace('"login"', '" login"'))
    problems = inspect(tiny).problems
    assert [(p.file, p.line) for p in problems] == [("task.toml", 6)]
    assert "has spaces around it" in problems[0].message


def test_out_of_scope_rows_only_in_test_are_a_warning(tiny: Path) -> None:
    manifest = tiny / "task.toml"
    manifest.write_text(manifest.read_text() + 'oos_label = "oos"\n')
    with (tiny / "test.csv").open("a") as test:
        test.write("tell me a joke,oos\n")
    found = inspect(tiny)
    assert found.ok, found.problems
    assert any("no out-of-scope row ('oos')" in w.message for w in found.warnings)
