"""``ratchet eval --tier``, ``ratchet feedback`` and ``ratchet jobs`` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ratchet.cli.main import app
from tests.helpers.processes import running
from tests.services.architect.conftest import architect_settings, settings_env

cli = CliRunner()


def test_eval_micro_reports_the_tier_of_the_active_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = architect_settings(tmp_path / "home")
    monkeypatch.setenv("RATCHET_HOME", str(settings.home_path))
    result = cli.invoke(app, ["eval", "--tier", "micro", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["passed"] and summary["tiers"]["micro"]["cases"] == 40
    bad = cli.invoke(app, ["eval", "--tier", "huge"])
    assert bad.exit_code == 2 and "unknown tier" in bad.output


@pytest.mark.slow
def test_feedback_and_jobs_talk_to_the_running_architect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = architect_settings(tmp_path / "home")
    with running("services.architect", settings_env(settings)) as architect:
        monkeypatch.setenv("RATCHET_ARCHITECT_PORT", architect.url.rsplit(":", 1)[1])
        patch = tmp_path / "change.diff"
        patch.write_text("not a diff\n")
        refused = cli.invoke(app, ["feedback", "make it better", "--patch", str(patch)])
        assert refused.exit_code == 1 and "malformed diff" in refused.output
        sent = cli.invoke(app, ["feedback", "make it better"])
        assert sent.exit_code == 0, sent.output
        job_id = sent.output.split()[1]
        shown = cli.invoke(app, ["jobs", job_id])  # follows it until it ends
        assert shown.exit_code == 0 and "rejected" in shown.output and "coder" in shown.output
        listed = cli.invoke(app, ["jobs"])
        assert job_id in listed.output
