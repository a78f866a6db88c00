"""``ratchet eval --tier``, ``ratchet feedback`` and ``ratchet jobs`` end to end."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from fleet import record as fleet_record
from fleet.cli.main import app
from ratchet.sandbox import sandbox_support
from services.architect.cli import job_view
from services.architect.jobs import CandidateRecord, CandidateStatus, JobKind, JobStatus
from services.architect.jobs.model import Job
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
    assert summary["sandbox"] == sandbox_support().to_json()  # what the tier ran under
    shown = cli.invoke(app, ["eval", "--tier", "micro"])
    assert f"sandbox: {sandbox_support().kind}" in shown.output
    bad = cli.invoke(app, ["eval", "--tier", "huge"])
    assert bad.exit_code == 2 and "unknown tier" in bad.output


@pytest.mark.slow
def test_feedback_and_jobs_talk_to_the_running_architect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = architect_settings(tmp_path / "home")
    with running("services.architect", settings_env(settings)) as architect:
        # Bound to a free port: the commands find it in the home's fleet record, as they
        # find a `ratchet up` fleet's from another shell.
        monkeypatch.setenv("RATCHET_HOME", str(settings.home_path))
        monkeypatch.delenv("RATCHET_ARCHITECT_PORT", raising=False)
        monkeypatch.delenv("RATCHET_ARCHITECT_HOST", raising=False)
        fleet_record.write(settings.home_path, {"architect": architect.url})
        patch = tmp_path / "change.diff"
        patch.write_text("not a diff\n")
        refused = cli.invoke(app, ["feedback", "make it better", "--patch", str(patch)])
        assert refused.exit_code == 1 and "malformed diff" in refused.output
        sent = cli.invoke(app, ["feedback", "make it better"])
        assert sent.exit_code == 0, sent.output
        job_id = sent.output.split()[1]
        shown = cli.invoke(app, ["jobs", job_id])  # follows it until it ends
        assert shown.exit_code == 0 and "rejected" in shown.output and "coder" in shown.output
        assert "candidates" in shown.output  # the table of the one (template) candidate
        listed = cli.invoke(app, ["jobs"])
        assert job_id in listed.output
    assert "RATCHET_ARCHITECT_PORT" not in os.environ  # set for each command only


def test_a_job_is_shown_with_a_table_of_its_candidates() -> None:
    job = Job(
        id="ab12",
        kind=JobKind.FEEDBACK,
        status=JobStatus.SUCCEEDED,
        text="misrouted",
        has_patch=False,
        created_at="2026-11-30T18:00:00Z",
        version="v0.2.0",
        warnings=["no sandbox on this machine (bubblewrap is not installed)"],
        candidates=[
            CandidateRecord(
                index=1,
                coder="template",
                summary="template a",
                status=CandidateStatus.KEPT,
                metrics={"fast": {"dev_accuracy": 0.9114}, "full": {"heldout_accuracy": 0.92}},
                seconds={"micro": 3.0, "fast": 20.0, "full": 95.5},
            ),
            CandidateRecord(
                index=2,
                coder="template",
                summary="template b",
                status=CandidateStatus.LOST,
                reason="not run in full: cascade",
                metrics={"fast": {"dev_accuracy": 0.8612}},
                seconds={"micro": 3.0, "fast": 21.0},
            ),
        ],
    )
    console = Console(record=True, width=200)
    console.print(job_view(job.model_dump(mode="json")))
    text = console.export_text()
    assert "0.9114" in text and "0.9200" in text and "full 95.5" in text
    assert "warning: no sandbox on this machine" in text
    lost = next(line for line in text.splitlines() if "template b" in line)
    assert "lost" in lost and "0.8612" in lost and "not run in full: cascade" in lost
