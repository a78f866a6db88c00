"""Jobs through the real gates, in-process: each tier runs the candidate's code in
its own processes (the full tier: a candidate Runner and Tuner over MCP)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from ratchet.sandbox import sandbox_support
from ratchet.vcs import ReleaseKind
from services.architect.context import ArchitectContext
from services.architect.jobs import CandidateStatus, Job, JobKind, JobStatus, StageStatus
from services.architect.worker import Worker, recover
from tests.conftest import git
from tests.services.architect.conftest import (
    architect_settings,
    diff_of,
    good_patch,
    json_diff,
    renaming_patch,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ArchitectContext]:
    settings = architect_settings(tmp_path_factory.mktemp("architect") / "home")
    context = ArchitectContext.from_settings(settings)
    yield context
    context.close()


def run(ctx: ArchitectContext, text: str, patch: str | None) -> Job:
    ctx.jobs.create(JobKind.FEEDBACK, text, patch=patch)
    (job,) = Worker(ctx).run_pending()
    return job


def tags(ctx: ArchitectContext) -> list[str]:
    return git(ctx.settings.workspace_path, "tag", "-l").split()


def summary(ctx: ArchitectContext, commit: str) -> dict[str, Any]:
    stored = ctx.objects.get(f"evals/{commit}/summary.json")
    data: dict[str, Any] = json.loads(stored.data)
    return data


def test_a_new_tool_is_minor_and_renaming_it_is_major(ctx: ArchitectContext) -> None:
    workspace = ctx.settings.workspace_path
    job = run(ctx, "the Runner should say which version answers", good_patch(workspace))
    assert job.status is JobStatus.SUCCEEDED, (job.reason, job.stages)
    assert job.version is not None and job.version.endswith(".0")
    release = ctx.releases.get(job.version)
    assert release.kind is ReleaseKind.MINOR
    assert (release.metadata.model_extra or {})["job_id"] == job.id
    assert release.metadata.eval_key == f"evals/{release.commit}/summary.json"
    body = summary(ctx, release.commit)
    for name in ("heldout_accuracy", "dev_accuracy", "p95_latency_ms", "error_rate"):
        assert isinstance(body[name], float), name
    assert body["runner_peak_rss_mb"] > 50  # the candidate Runner's, its models loaded
    assert set(body["tiers"]) == {"micro", "fast", "full"}
    assert all(body["tiers"][t]["seconds"] > 0 for t in body["tiers"])
    assert body["sandbox"] == sandbox_support().to_json()  # what its tiers ran under
    runner_tools = {t["name"] for t in body["tiers"]["full"]["tools"]["runner"]}
    assert runner_tools == {"route", "serving_version"}
    pointer = ctx.manager.pointer()
    assert pointer is not None and (pointer.version, pointer.commit) == (
        job.version,
        release.commit,
    )
    assert all(s.status is StageStatus.PASSED and s.seconds is not None for s in job.stages)
    release_log = next(s.log for s in job.stages if s.name == "release")
    assert "the Tuner is not asked to tune (RATCHET_ARCHITECT_TUNER_URL is empty)" in release_log
    # The one candidate's record: what it was, what each tier measured, its fate.
    (kept,) = job.candidates
    assert (kept.index, kept.coder, kept.status, kept.commit) == (
        1,
        "patch",
        CandidateStatus.KEPT,
        (release.metadata.model_extra or {})["candidate"],
    )
    assert set(kept.metrics) == set(kept.seconds) == {"micro", "fast", "full"}
    assert kept.metrics["full"]["heldout_accuracy"] == body["heldout_accuracy"]
    assert kept.fingerprint.startswith("diff:") and kept.reason.startswith(
        f"released {job.version}"
    )
    (entry,) = ctx.ledger.entries(limit=1)
    assert (entry.job_id, entry.result, entry.fingerprint) == (job.id, "kept", kept.fingerprint)

    renamed = run(ctx, "call it version_serving", renaming_patch(workspace))
    assert renamed.status is JobStatus.SUCCEEDED, (renamed.reason, renamed.stages)
    major = ctx.releases.get(str(renamed.version))
    assert major.kind is ReleaseKind.MAJOR and major.version.endswith(".0.0")
    reasons = (major.metadata.model_extra or {})["bump_reasons"]
    assert reasons == ["runner tool 'serving_version' removed or renamed"]


def rejected_at(ctx: ArchitectContext, text: str, patch: str, stage: str) -> Job:
    before = tags(ctx)
    job = run(ctx, text, patch)
    assert (job.status, job.failed_stage) == (JobStatus.REJECTED, stage), job.reason
    failed = next(s for s in job.stages if s.name == stage)
    assert failed.status is StageStatus.FAILED and job.reason in failed.log
    assert tags(ctx) == before
    assert git(ctx.settings.workspace_path, "status", "--porcelain") == ""
    return job


def test_a_patch_failing_micro_is_rejected_at_micro(ctx: ArchitectContext) -> None:
    patch = json_diff(
        ctx.settings.workspace_path,
        "state/active.state.json",
        lambda d: d["data"].__setitem__(
            "rules", [{"id": "r", "all_of": ["card"], "intent": "top_up_failed"}]
        ),
    )
    job = rejected_at(ctx, "a rule for cards", patch, "micro")
    assert "expected activate_my_card" in job.reason


def test_a_patch_failing_fast_is_rejected_at_fast(ctx: ArchitectContext) -> None:
    # Tightening is allowed; this bar is one the agent cannot reach on the dev split.
    patch = json_diff(
        ctx.settings.workspace_path,
        "ci/budgets.json",
        lambda d: d["budgets"].__setitem__("min_dev_accuracy", 0.99),
    )
    job = rejected_at(ctx, "raise the dev bar", patch, "fast")
    assert "dev_accuracy" in job.reason and "below the budget 0.9900" in job.reason


def test_a_patch_failing_full_is_rejected_at_full(ctx: ArchitectContext) -> None:
    patch = json_diff(
        ctx.settings.workspace_path,
        "ci/budgets.json",
        lambda d: d["budgets"].__setitem__("max_p95_latency_ms", 0.01),
    )
    job = rejected_at(ctx, "answer in 10 microseconds", patch, "full")
    assert "p95_latency_ms" in job.reason


def test_loosening_a_budget_is_rejected_by_policy(ctx: ArchitectContext) -> None:
    patch = json_diff(
        ctx.settings.workspace_path,
        "ci/budgets.json",
        lambda d: d["budgets"].__setitem__("min_heldout_accuracy", 0.1),
    )
    job = rejected_at(ctx, "lower the bar", patch, "policy")
    assert "min_heldout_accuracy lowered" in job.reason


def drop_first_case(document: dict[str, Any]) -> None:
    document["cases"] = document["cases"][1:]


def test_deleting_a_golden_case_is_rejected_by_policy(ctx: ArchitectContext) -> None:
    patch = json_diff(ctx.settings.workspace_path, "tests/golden/micro.json", drop_first_case)
    job = rejected_at(ctx, "this case is annoying", patch, "policy")
    assert "remove or alter golden case" in job.reason


def test_editing_static_code_is_rejected_by_policy(ctx: ArchitectContext) -> None:
    patch = diff_of(
        ctx.settings.workspace_path,
        "tasks/banking77/task.toml",
        lambda text: text.replace("labels = [\n", 'labels = [\n  "free_money",\n', 1),
    )
    job = rejected_at(ctx, "a new intent", patch, "policy")
    assert "may not change tasks/banking77/task.toml" in job.reason


def test_a_diff_that_does_not_apply_is_rejected_by_the_coder(ctx: ArchitectContext) -> None:
    stale = "--- a/README.md\n+++ b/README.md\n@@ -1 +1 @@\n-not the first line\n+x\n"
    job = rejected_at(ctx, "stale diff", stale, "coder")
    assert "does not apply" in job.reason


def test_feedback_without_a_diff_goes_to_the_template_coder(ctx: ArchitectContext) -> None:
    job = run(ctx, "please be smarter", None)
    assert (job.status, job.failed_stage, job.coder) == (JobStatus.REJECTED, "coder", "template")
    assert "no template in examples/ matches" in job.reason
    (candidate,) = job.candidates
    assert candidate.status is CandidateStatus.REJECTED and job.reason in candidate.reason


def test_an_authorised_golden_change_is_released_with_release_notes_saying_so(
    ctx: ArchitectContext,
) -> None:
    """Removing a golden case passes the policy only when the feedback authorises it."""
    workspace = ctx.settings.workspace_path
    patch = json_diff(workspace, "tests/golden/micro.json", drop_first_case)
    job = run(ctx, "the first case is ambiguous\nauthorize: test-changes", patch)
    assert job.status is JobStatus.SUCCEEDED, job.reason
    release = ctx.releases.get(str(job.version))
    extra = release.metadata.model_extra or {}
    assert extra["authorised"] == ["test-changes"]
    assert "authorised by the feedback" in extra["authorised_changes"][0]
    assert "authorised by the feedback" in git(workspace, "log", "-1", "--format=%B")


class Killed(BaseException):
    """Stands for SIGKILL: not an Exception, so nothing on the way catches it."""


def test_a_kill_inside_the_release_is_finished_by_the_next_run(
    ctx: ArchitectContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = ctx.settings.workspace_path
    patch = diff_of(workspace, "services/runner/agent/router.py", lambda s: s + "\n# kill me\n")
    ctx.jobs.create(JobKind.FEEDBACK, "a comment", patch=patch)
    before = tags(ctx)

    # 1. Killed between the commit and the tag (writing the summary): no tag, and the
    #    untagged commit is discarded by the next releaser, never shipped by it.
    real_put_once = ctx.objects.put_once

    def killed_writing_summary(key: str, data: bytes) -> str:
        if key.startswith("evals/") and b'"job_id"' in data:
            raise Killed
        return real_put_once(key, data)

    monkeypatch.setattr(ctx.objects, "put_once", killed_writing_summary)
    with pytest.raises(Killed):
        Worker(ctx).run_pending()
    assert tags(ctx) == before
    assert git(workspace, "tag", "--points-at", "HEAD") == ""  # the commit made, untagged
    assert f"(job {ctx.jobs.jobs(limit=1)[0].id})" in git(workspace, "log", "-1", "--format=%s")
    latest = ctx.releases.latest()
    assert latest is not None
    monkeypatch.undo()
    recover(ctx)
    assert ctx.jobs.jobs(limit=1)[0].status is JobStatus.QUEUED

    # 2. Killed between the tag and the pointer move: the tag has its summary, and
    #    recovery moves the pointer and marks the job succeeded.
    monkeypatch.setattr(ctx.manager, "activate", lambda *a, **k: (_ for _ in ()).throw(Killed))
    with pytest.raises(Killed):
        Worker(ctx).run_pending()
    monkeypatch.undo()
    (new,) = set(tags(ctx)) - set(before)
    release = ctx.releases.get(new)
    assert git(workspace, "rev-parse", f"{release.commit}^") == latest.commit  # not on it
    assert ctx.objects.exists(f"evals/{release.commit}/summary.json")
    pointer = ctx.manager.pointer()
    assert pointer is not None and pointer.version != new
    recover(ctx)
    job = ctx.jobs.jobs(limit=1)[0]
    assert (job.status, job.version, job.attempts) == (JobStatus.SUCCEEDED, new, 2)
    pointer = ctx.manager.pointer()
    assert pointer is not None and (pointer.version, pointer.commit) == (new, release.commit)
