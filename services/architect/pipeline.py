"""A job from intake to final status: plan → candidates → compare → release.

Every run of a job starts from the plan: the stages before the release have
no lasting effects (throwaway worktrees, child processes), so running a job
again after a restart is resuming it. The one stage with effects, the
release, is ordered so that a killed run leaves either nothing or a tag the
next run finds (:func:`.release.released_by`) and finishes.
"""

from __future__ import annotations

import logging

from ratchet.errors import PinnedError

from .baseline import baseline
from .candidates import Candidate, build_candidate
from .coders import CodingRequest, coder_for
from .compare import best, regressions
from .context import ArchitectContext
from .jobs import Job, JobStatus
from .release import finish_released, release_candidate, released_by
from .stages import Recorder, Rejected, StageFailed

log = logging.getLogger(__name__)


def run_job(ctx: ArchitectContext, job: Job) -> Job:
    """Run ``job`` (already claimed) to its final status."""
    recorder = Recorder(ctx.jobs, job.id)
    try:
        version, reason = _run(ctx, job, recorder)
    except Rejected as exc:
        return ctx.jobs.finish(job.id, JobStatus.REJECTED, exc.reason, failed_stage=exc.stage)
    except StageFailed as exc:
        log.exception("job %s failed in %s", job.id, exc.stage)
        return ctx.jobs.finish(job.id, JobStatus.FAILED, str(exc), failed_stage=exc.stage)
    return ctx.jobs.finish(job.id, JobStatus.SUCCEEDED, reason, version=version)


def _run(ctx: ArchitectContext, job: Job, recorder: Recorder) -> tuple[str, str]:
    workspace = ctx.settings.workspace_path
    with recorder.stage("plan") as lines:
        done = released_by(ctx.releases, job.id)
        if done is not None:  # an earlier run got as far as the tag
            finish_released(ctx.manager, workspace, done)
            lines.append(f"released {done.version} by an earlier run")
            return done.version, f"released {done.version} (finished after a restart)"
        active = ctx.manager.read_active()
        if active is None or active.pointer.commit is None:
            raise Rejected("no active release with a commit: run `ratchet init` first")
        try:
            ctx.manager.refuse_if_pinned()
        except PinnedError as exc:
            raise Rejected(str(exc)) from None
        request = CodingRequest(
            job.id, job.text, ctx.jobs.patch_of(job.id), job.evidence, active.version
        )
        coder = coder_for(request, ctx.settings)
        count = coder.candidates(request)
        build = ctx.builds.ensure(active.pointer.commit)
        lines.append(
            f"attempt {job.attempts}: active {active.version} at {active.pointer.commit[:12]}; "
            f"coder {coder.name}, {count} candidate(s)"
        )
    survivors: list[Candidate] = []
    rejections: list[Rejected] = []
    for index in range(count):
        try:
            survivors.append(
                build_candidate(ctx, recorder, coder, request, index, active.pointer.commit, build)
            )
        except Rejected as exc:
            rejections.append(exc)
    if not survivors:
        raise rejections[0]
    with recorder.stage("compare") as lines:
        base = baseline(active, build, ctx.objects, ctx.ci)
        lines.append(
            f"baseline {base.version}: heldout {base.metric('heldout_accuracy')}, "
            f"dev {base.metric('dev_accuracy')}" + (" (measured now)" if base.measured_now else "")
        )
        kept = []
        for candidate in survivors:
            found = regressions(candidate, base, must_improve=coder.must_improve)
            lines.append(
                f"candidate {candidate.index + 1}: " + ("; ".join(found) or "no regression")
            )
            if not found:
                kept.append(candidate)
        if not kept:
            raise Rejected(lines[-1])
        chosen = best(kept)
    with recorder.stage("release") as lines:
        release = release_candidate(ctx, job, chosen, active, base, build, lines)
        lines.append(f"released {release.version} at {release.commit[:12]}; pointer moved")
    return release.version, f"released {release.version} ({release.kind})"
