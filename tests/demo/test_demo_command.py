"""``ratchet demo``'s command line: it refuses a used home before starting anything."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from ratchet.cli.main import app


def test_demo_refuses_a_home_that_is_not_fresh(tmp_path: Path) -> None:
    home = tmp_path / "used"
    home.mkdir()
    (home / "workspace").mkdir()
    result = CliRunner().invoke(app, ["demo", "--home", str(home)], env={"COLUMNS": "300"})
    assert result.exit_code == 2
    assert "is not empty" in result.output and "--home" in result.output
    assert [p.name for p in home.iterdir()] == ["workspace"]  # nothing started, nothing written


def test_demo_help_names_its_options() -> None:
    result = CliRunner().invoke(app, ["demo", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert all(option in result.output for option in ("--home", "--rounds", "--heldout-sample"))
