"""``ratchet demo``'s command line: it refuses a used home before starting anything."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from fleet.cli.main import app


def test_demo_refuses_a_home_that_is_not_fresh(tmp_path: Path) -> None:
    home = tmp_path / "used"
    home.mkdir()
    (home / "workspace").mkdir()
    result = CliRunner().invoke(app, ["demo", "--home", str(home)])
    said = " ".join(result.output.split())  # Rich wraps at its console's width
    assert result.exit_code == 2
    assert "used is not empty" in said and "--home" in said
    assert [p.name for p in home.iterdir()] == ["workspace"]  # nothing started, nothing written


def test_demo_help_names_its_options() -> None:
    result = CliRunner().invoke(app, ["demo", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert all(option in result.output for option in ("--home", "--rounds", "--heldout-sample"))
