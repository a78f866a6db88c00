"""Without a sandbox the Architect refuses autonomous coders at the plan; a human's
patch still runs, with a warning on the job; a sandbox required but missing is a
reason on the job, never a traceback. In-process, with the machine's probe made to
find no bubblewrap."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ratchet.sandbox import SandboxUnavailable, sandbox_support
from ratchet.sandbox.support import _probed
from services.architect.app import create_app
from services.architect.context import ArchitectContext
from services.architect.jobs import Job, JobKind, JobStatus, JobStore, StageStatus
from services.architect.sandboxing import described
from services.architect.stages import Recorder, Rejected
from services.architect.worker import Worker
from tests.conftest import git
from tests.services.architect.conftest import architect_settings, json_diff


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ArchitectContext]:
    settings = architect_settings(tmp_path_factory.mktemp("architect") / "home")
    context = ArchitectContext.from_settings(settings)
    yield context
    context.close()


@pytest.fixture
def no_bwrap(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This machine, as one without bubblewrap (the probe runs again, before and after)."""
    found = shutil.which
    monkeypatch.setattr(
        "ratchet.sandbox.support.shutil.which",
        lambda name, *a, **k: None if name == "bwrap" else found(name, *a, **k),
    )
    monkeypatch.delenv("RATCHET_SANDBOX", raising=False)
    _probed.cache_clear()
    yield
    _probed.cache_clear()


def run(ctx: ArchitectContext, text: str, patch: str | None = None) -> Job:
    ctx.jobs.create(JobKind.FEEDBACK, text, patch=patch)
    (job,) = Worker(ctx).run_pending()
    return job


def _micro_fails(ctx: ArchitectContext) -> str:
    """A human patch micro turns down: a job that gets past the plan, quickly."""
    return json_diff(
        ctx.settings.workspace_path,
        "state/active.state.json",
        lambda d: d["data"].__setitem__(
            "rules", [{"id": "r", "all_of": ["card"], "intent": "top_up_failed"}]
        ),
    )


def stage(job: Job, name: str) -> StageStatus:
    return next(s.status for s in job.stages if s.name == name)


def tags(ctx: ArchitectContext) -> list[str]:
    return git(ctx.settings.workspace_path, "tag", "-l").split()


def test_an_autonomous_coder_is_refused_at_the_plan(ctx: ArchitectContext, no_bwrap: None) -> None:
    before = tags(ctx)
    job = run(ctx, "route lost cards better")  # no diff: the configured (template) coder
    assert (job.status, job.failed_stage, job.coder) == (JobStatus.REJECTED, "plan", "template")
    assert job.reason.startswith("no sandbox on this machine: bubblewrap is not installed")
    assert "autonomous coders are refused" in job.reason and "`ratchet doctor`" in job.reason
    assert job.candidates == []  # nothing of the candidates ran: no worktree, no coder
    assert all(stage(job, name) is StageStatus.SKIPPED for name in ("worktree", "coder", "fast"))
    assert tags(ctx) == before


def test_a_human_patch_runs_with_a_warning_on_the_job(
    ctx: ArchitectContext, no_bwrap: None
) -> None:
    job = run(ctx, "a rule for cards", _micro_fails(ctx))  # past the plan, quickly
    assert (job.status, job.failed_stage, job.coder) == (JobStatus.REJECTED, "micro", "patch")
    assert stage(job, "plan") is StageStatus.PASSED and stage(job, "policy") is StageStatus.PASSED
    (warning,) = job.warnings
    assert warning.startswith("no sandbox on this machine (bubblewrap is not installed")
    assert "runs unconfined" in warning
    plan_log = next(s.log for s in job.stages if s.name == "plan")
    assert f"warning: {warning}" in plan_log
    app = create_app(ctx.settings, ctx, run_worker=False)
    with TestClient(app) as client:  # the API's job view shows it
        assert client.get(f"/jobs/{job.id}").json()["warnings"] == [warning]


def test_the_plan_says_which_sandbox_the_candidates_run_under(ctx: ArchitectContext) -> None:
    job = run(ctx, "a rule for cards", _micro_fails(ctx))
    assert job.failed_stage == "micro"  # past the plan, whatever this machine gives
    plan_log = next(s.log for s in job.stages if s.name == "plan")
    assert f"sandbox: {described(sandbox_support())}" in plan_log
    assert bool(job.warnings) is not sandbox_support().available  # a warning only without


def test_a_required_sandbox_that_is_missing_refuses_every_job(
    ctx: ArchitectContext, no_bwrap: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RATCHET_SANDBOX", "bwrap")
    job = run(ctx, "the Runner should say which version answers", "--- a\n+++ b\n")
    assert (job.status, job.failed_stage) == (JobStatus.REJECTED, "plan")
    assert job.reason.startswith("RATCHET_SANDBOX=bwrap, but there is no sandbox")
    assert "`ratchet doctor`" in job.reason and job.warnings == []


def test_a_tier_refused_its_sandbox_is_a_rejection_with_the_reason(tmp_path: Path) -> None:
    jobs = JobStore(tmp_path / "jobs.sqlite3")
    job, _ = jobs.create(JobKind.FEEDBACK, "x")
    with pytest.raises(Rejected) as caught, Recorder(jobs, job.id).stage("fast"):
        raise SandboxUnavailable("RATCHET_SANDBOX=bwrap, but bubblewrap is not installed")
    assert caught.value.stage == "fast" and "see `ratchet doctor`" in caught.value.reason
    fast = next(s for s in jobs.get(job.id).stages if s.name == "fast")
    assert fast.status is StageStatus.FAILED and "bubblewrap is not installed" in fast.log
    jobs.close()
