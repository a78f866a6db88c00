"""``ratchet versions`` and ``ratchet versions show V`` on the fixture workspace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleet.cli.main import app
from tests.services.versions.conftest import TASK, Home

runner = CliRunner()


@pytest.fixture
def env(built_home: Home) -> dict[str, str]:
    return {"RATCHET_HOME": str(built_home.settings.home_path), "COLUMNS": "200"}


def test_the_table_lists_releases_newest_first(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["versions"], env=env)
    assert result.exit_code == 0, result.output
    out = result.stdout
    order = [out.index(v) for v in ("v1.0.1", "v1.0.0", "v0.2.0", "v0.1.0")]
    assert order == sorted(order)
    assert "v1.0.0 ● active" in out
    assert "86.1% · 61 ms · 0.40%" in out  # the eval metrics of v1.0.0
    assert "7 of 7 releases; active v1.0.0" in out
    assert "flagged v9.9.9: lightweight tag" in out


def test_the_table_filters(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["versions", "--kind", "major"], env=env)
    assert result.exit_code == 0
    assert "v1.0.0" in result.stdout and "v0.2.0" not in result.stdout
    assert "1 of 1 releases" in result.stdout
    bad = runner.invoke(app, ["versions", "--kind", "hotfix"], env=env)
    assert bad.exit_code == 2 and "patch, minor or major" in bad.output


def test_show_one_release(env: dict[str, str], built_home: Home) -> None:
    result = runner.invoke(app, ["versions", "show", "v0.2.0"], env=env)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "use 12 neighbours" in out and built_home.commits["v0.2.0"] in out
    assert "job-7" in out and "fb-1, fb-2" in out
    assert re.search(rf"\btask\s+{TASK}\b", out)  # the task the release serves
    assert "83.0% (best arm 83.2%) · 18 ms · 0.20%" in out  # served, the best arm beside it
    assert "diff against v0.1.2" in out
    assert "added     services/runner/agent/notes.py" in out
    assert "/data/params/knn_k/value  10.0 → 12.0" in out
    assert re.search(r"\bsandbox\s+unconfined \(bubblewrap is not installed\)", out)


def test_show_against_another_release(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["versions", "show", "v1.0.1", "--against", "v0.1.0"], env=env)
    assert result.exit_code == 0 and "diff against v0.1.0" in result.stdout


@pytest.mark.parametrize(
    ("version", "words"),
    [("v1.x", "malformed version 'v1.x'"), ("v7.0.0", "no release v7.0.0")],
)
def test_show_bad_versions_say_why(env: dict[str, str], version: str, words: str) -> None:
    result = runner.invoke(app, ["versions", "show", version], env=env)
    assert result.exit_code == 1
    assert words in " ".join(result.stderr.split())


def test_no_workspace_says_run_init(tmp_path: Path) -> None:
    result = runner.invoke(app, ["versions"], env={"RATCHET_HOME": f"{tmp_path}/none"})
    assert result.exit_code == 1 and "ratchet init" in " ".join(result.stderr.split())
