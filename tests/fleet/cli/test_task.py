"""``ratchet task check|import`` and ``ratchet init --task``, in-process (Typer's runner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleet.cli.main import app
from ratchet.tasks import inspect
from tests.conftest import PROJECT_ROOT
from tests.helpers.tasks import BROKEN, csv_text, rows, write_task

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, source_repo: Path) -> dict[str, str]:
    return {"RATCHET_HOME": str(tmp_path / "home"), "RATCHET_PROJECT_ROOT": str(source_repo)}


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_task(tmp_path / "tiny")


def where(file: str, line: int | None) -> str:
    return f"{file}: " if line is None else f"{file}:{line}: "


def test_check_summarises_a_valid_task(tiny: Path, env: dict[str, str]) -> None:
    result = runner.invoke(app, ["task", "check", str(tiny)], env=env)
    assert result.exit_code == 0, result.output
    assert "labels 3" in result.stdout and "ok: 0 problems" in result.stdout
    assert "min 12 (billing, login, shipping)" in result.stdout


def test_check_json(tiny: Path, env: dict[str, str]) -> None:
    result = runner.invoke(app, ["task", "check", str(tiny), "--json"], env=env)
    report = json.loads(result.stdout)
    assert result.exit_code == 0 and report["ok"] is True
    assert report["summary"]["rows"]["test"] == 9 and report["summary"]["labels"] == 3


@pytest.mark.parametrize("defect", sorted(BROKEN))
def test_check_exits_1_naming_the_file_and_line(
    tiny: Path, env: dict[str, str], defect: str
) -> None:
    breaks, file, line, message = BROKEN[defect]
    breaks(tiny)
    result = runner.invoke(app, ["task", "check", str(tiny)], env=env)
    assert result.exit_code == 1, result.output
    shown = [text for text in result.stdout.splitlines() if text.startswith(where(file, line))]
    assert any(message in text for text in shown), result.stdout


@pytest.mark.parametrize("defect", sorted(BROKEN))
def test_init_with_a_bad_task_exits_2_and_creates_no_home(
    tiny: Path, env: dict[str, str], defect: str
) -> None:
    breaks, file, line, message = BROKEN[defect]
    breaks(tiny)
    result = runner.invoke(app, ["init", "--task", str(tiny)], env=env)
    assert result.exit_code == 2, result.output
    assert any(
        text.strip().startswith(where(file, line)) and message in text
        for text in result.stderr.splitlines()
    ), result.stderr
    assert not Path(env["RATCHET_HOME"]).exists()


def test_ratchet_task_env_is_checked_the_same_way(tiny: Path, env: dict[str, str]) -> None:
    BROKEN["empty text"][0](tiny)
    result = runner.invoke(app, ["init"], env={**env, "RATCHET_TASK": str(tiny)})
    assert result.exit_code == 2 and "train.csv:5: empty text" in result.stderr
    assert not Path(env["RATCHET_HOME"]).exists()


def test_the_task_option_wins_over_the_env(tiny: Path, env: dict[str, str]) -> None:
    result = runner.invoke(
        app, ["init", "--task", "no-such-task"], env={**env, "RATCHET_TASK": str(tiny)}
    )
    assert result.exit_code == 2 and "no task 'no-such-task'" in result.stderr
    assert not Path(env["RATCHET_HOME"]).exists()


def test_check_of_an_unknown_task_exits_2(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["task", "check", "no-such-task"], env=env)
    assert result.exit_code == 2 and "no task 'no-such-task'" in result.stderr


@pytest.mark.parametrize("name", ["banking77", "hwu64"])
def test_the_builtin_tasks_pass_check_with_warnings(name: str) -> None:
    result = runner.invoke(app, ["task", "check", name])
    assert result.exit_code == 0, result.output
    assert "warnings (" in result.stdout and "ok: 0 problems" in result.stdout


def user_csv(path: Path, oos: int = 10) -> Path:
    records = rows(0, 15) + [(f"tell me a joke number {i} please", "oos") for i in range(oos)]
    path.write_text(csv_text(records, header=("message", "intent")))
    return path


def test_import_then_check(tmp_path: Path, env: dict[str, str]) -> None:
    source = user_csv(tmp_path / "tickets.csv")
    out = tmp_path / "tasks" / "tickets"
    args = ["task", "import", str(source), "--text", "message", "--label", "intent"]
    result = runner.invoke(app, [*args, "--oos-label", "oos", "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert "3 labels, 44 train rows, 11 test rows, 10 out of scope (oos)" in result.stdout
    assert inspect(out).ok
    checked = runner.invoke(app, ["task", "check", str(out)], env=env)
    assert checked.exit_code == 0 and "out of scope ('oos')" in checked.stdout


def test_import_of_a_bad_csv_exits_2_and_writes_nothing(
    tmp_path: Path, env: dict[str, str]
) -> None:
    source = user_csv(tmp_path / "tickets.csv")
    source.write_bytes(source.read_bytes().replace(b"question 3 ", b"questi\xf3n 3 ", 1))
    out = tmp_path / "out"
    args = ["task", "import", str(source), "--text", "message", "--label", "intent"]
    result = runner.invoke(app, [*args, "--out", str(out)], env=env)
    assert result.exit_code == 2
    assert "tickets.csv:11: not UTF-8 (byte 0xf3 at column 29)" in result.stderr
    assert not out.exists()


def test_import_refuses_a_folder_that_has_files(tmp_path: Path, env: dict[str, str]) -> None:
    source = user_csv(tmp_path / "tickets.csv")
    args = ["task", "import", str(source), "--text", "message", "--label", "intent"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path)], env=env)
    assert result.exit_code == 2 and "exists and is not an empty folder" in result.stderr


@pytest.mark.slow
def test_init_serves_an_imported_task_and_status_names_it(tmp_path: Path) -> None:
    # The workspace must hold the Runner's code (it routes the drawn golden cases).
    env = {"RATCHET_HOME": str(tmp_path / "home"), "RATCHET_PROJECT_ROOT": str(PROJECT_ROOT)}
    out = tmp_path / "tickets"
    args = ["task", "import", str(user_csv(tmp_path / "tickets.csv", oos=0)), "--out", str(out)]
    imported = runner.invoke(app, [*args, "--text", "message", "--label", "intent"], env=env)
    assert imported.exit_code == 0, imported.output
    result = runner.invoke(app, ["init", "--task", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert "installed task tickets (3 labels" in result.stdout
    status = runner.invoke(app, ["status", "--json"], env=env)
    task = json.loads(status.stdout)["task"]
    assert task["name"] == "tickets" and task["labels"] == 3 and task["oos_label"] is None
    shown = runner.invoke(app, ["status"], env=env)
    assert "task tickets: 3 labels, no out-of-scope label" in shown.stdout
    # A home serves one task for its life.
    other = runner.invoke(app, ["init", "--task", "hwu64"], env=env)
    assert other.exit_code == 2 and "serves task 'tickets', not 'hwu64'" in other.stderr
