"""A job from intake to final status: plan → candidates → rank → cascade → release.

Each candidate meets worktree, coder, policy, micro and fast; the survivors
are ranked on dev accuracy and only the best goes to full and the held-out
comparison (:mod:`.cascade`); every candidate's record and fate is kept on
the job and in the proposal ledger (:mod:`.book`).

Every run of a job starts from the plan: the stages before the release have
no lasting effects (throwaway worktrees, child processes), so running a job
again after a restart is resuming it. The one stage with effects, the
release, is ordered so that a killed run leaves either nothing or a tag the
next run finds (:func:`.release.released_by`) and finishes.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack

from ratchet.errors import PinnedError

from .baseline import baseline
from .book import Book
from .candidates import Candidate, build_candidate
from .cascade import cascade, none_kept, screen
from .coders import CodingRequest, coder_for
from .context import ArchitectContext
from .jobs import CandidateStatus, Job, JobStatus
from .release import finish_released, release_candidate, released_by
from .stages import Recorder, Rejected, StageFailed

log = logging.getLogger(__name__)
LEDGER_LOOKBACK = 1000  # earlier proposals on the same base a coder is told about


def run_job(ctx: ArchitectContext, job: Job) -> Job:
    """Run ``job`` (already claimed) to its final status."""
    recorder = Recorder(ctx.jobs, job.id)
    books: list[Book] = []
    try:
        version, reason = _run(ctx, job, recorder, books)
    except Rejected as exc:
        _close(books, CandidateStatus.REJECTED, exc.reason)
        return ctx.jobs.finish(job.id, JobStatus.REJECTED, exc.reason, failed_stage=exc.stage)
    except StageFailed as exc:
        log.exception("job %s failed in %s", job.id, exc.stage)
        _close(books, CandidateStatus.FAILED, str(exc))
        return ctx.jobs.finish(job.id, JobStatus.FAILED, str(exc), failed_stage=exc.stage)
    return ctx.jobs.finish(job.id, JobStatus.SUCCEEDED, reason, version=version)


def _close(books: list[Book], status: CandidateStatus, reason: str) -> None:
    """Candidates the job's end caught mid-way share its fate (and the ledger says so)."""
    for book in books:
        for number in book.unsettled():
            book.settle(number, status, f"the job ended: {reason}")


def _run(ctx: ArchitectContext, job: Job, recorder: Recorder, books: list[Book]) -> tuple[str, str]:
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
        # Other jobs' proposals on this base: a run of this job after a restart redoes
        # its own candidates as they were, not minus the ones its first run settled.
        tried = [
            entry
            for entry in ctx.ledger.entries(limit=LEDGER_LOOKBACK, base_version=active.version)
            if entry.job_id != job.id
        ]
        request = CodingRequest(
            job.id,
            job.text,
            ctx.jobs.patch_of(job.id),
            job.evidence,
            active.version,
            tried=tuple(tried),
        )
        coder = coder_for(request, ctx.settings)
        ctx.jobs.set_coder(job.id, coder.name)
        lines += coder.notes(request)
        count = coder.candidates(request)
        build = ctx.builds.ensure(active.pointer.commit)
        lines.append(
            f"attempt {job.attempts}: active {active.version} at {active.pointer.commit[:12]}; "
            f"coder {coder.name}, {count} candidate(s)"
        )
    book = Book(
        ctx.jobs,
        ctx.ledger,
        job_id=job.id,
        feedback=job.text,
        coder=coder.name,
        base_version=active.version,
    )
    books.append(book)
    with ExitStack() as stack:  # the candidates' worktrees, until the job is done with them
        survivors: list[Candidate] = []
        failures: list[Rejected] = []
        for index in range(count):
            book.open(index + 1)
            try:
                survivors.append(
                    build_candidate(
                        ctx,
                        recorder,
                        book,
                        coder,
                        request,
                        index,
                        active.pointer.commit,
                        build,
                        stack,
                    )
                )
            except Rejected as exc:
                book.settle(index + 1, CandidateStatus.REJECTED, f"failed {exc.stage}: {exc}")
                failures.append(exc)
        if not survivors:
            raise none_kept(failures)
        with recorder.stage("rank") as lines:
            base = baseline(active, build, ctx.objects, ctx.ci)
            lines.append(
                f"baseline {base.version}: heldout {base.metric('heldout_accuracy')}, "
                f"dev {base.metric('dev_accuracy')}"
                + (" (measured now)" if base.measured_now else "")
            )
            ranked = screen(survivors, base, book, lines, coder.must_improve)
            if not ranked:
                reasons = [
                    f"candidate {c.number}: {book.records[c.number].reason}" for c in survivors
                ]
                raise Rejected(
                    book.records[survivors[0].number].reason
                    if len(survivors) == 1
                    else "no candidate passes the dev comparison: " + "; ".join(reasons)
                )
        chosen = cascade(ctx, recorder, book, ranked, base, build)
        with recorder.stage("release") as lines:
            release = release_candidate(ctx, job, chosen, active, base, build, lines)
            lines.append(f"released {release.version} at {release.commit[:12]}; pointer moved")
    book.settle(
        chosen.number,
        CandidateStatus.KEPT,
        f"released {release.version}: dev {chosen.metric('dev_accuracy'):.4f}, "
        f"held-out {chosen.metric('heldout_accuracy'):.4f}",
    )
    return release.version, f"released {release.version} ({release.kind})"
