"""A job from intake to final status: plan → candidates → rank → cascade → release.

Each candidate meets worktree, coder, policy, micro and fast; the survivors
are ranked on dev accuracy and only the best goes to full and the held-out
comparison (:mod:`.cascade`); every candidate's record and fate is kept on
the job and in the proposal ledger (:mod:`.book`). The plan fixes what the
steps after it share, one :class:`.jobrun.JobRun`.

Every run of a job starts from the plan: the stages before the release have
no lasting effects (throwaway worktrees, child processes), so running a job
again after a restart is resuming it. The one stage with effects, the
release, is ordered so that a killed run leaves either nothing or a tag the
next run finds (:func:`.release.released_by`) and finishes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import ExitStack

from ratchet.errors import ConflictError, PinnedError
from ratchet.promotion import refuse_if_made_elsewhere
from ratchet.state import ActiveState
from ratchet.vcs import Release

from .baseline import Baseline, baseline
from .book import Book
from .candidates import Candidate, build_candidate
from .cascade import cascade, none_kept, screen
from .coders import CodingRequest, coder_for
from .context import ArchitectContext
from .jobrun import JobRun
from .jobs import CandidateStatus, Job, JobStatus
from .ledger import LedgerEntry
from .release import finish_released, release_candidate, released_by
from .sandboxing import sandbox_gate
from .stages import LeaseLost, Recorder, Rejected, StageFailed
from .tuning import ask_tuner

log = logging.getLogger(__name__)
LEDGER_LOOKBACK = 1000  # earlier proposals on the same base a coder is told about


def run_job(ctx: ArchitectContext, job: Job, lost: Callable[[], bool] = lambda: False) -> Job:
    """Run ``job`` (already claimed) to its final status; ``lost()`` says the run's lease
    ran out (its heartbeat's view), which stops it at its next stage."""
    recorder = Recorder(ctx.jobs, job.id, lost)
    books: list[Book] = []
    try:
        version, reason = _run(ctx, job, recorder, books)
    except LeaseLost:
        log.error("job %s: lease lost before its release; left to the run that took it", job.id)
        return ctx.jobs.get(job.id)
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
    with ExitStack() as worktrees:  # the candidates' worktrees, until the job is done with them
        run = _plan(ctx, job, recorder, worktrees)
        if isinstance(run, Release):  # an earlier run got as far as the tag
            return run.version, f"released {run.version} (finished after a restart)"
        books.append(run.book)
        survivors = _build_candidates(run)
        ranked, base = _rank(run, survivors)
        chosen = cascade(run, ranked, base)
        release = _release(run, chosen, base)
    run.book.settle(
        chosen.number,
        CandidateStatus.KEPT,
        f"released {release.version}: dev {chosen.metric('dev_accuracy'):.4f}, "
        f"held-out {chosen.metric('heldout_accuracy'):.4f}",
    )
    return release.version, f"released {release.version} ({release.kind})"


def _plan(
    ctx: ArchitectContext, job: Job, recorder: Recorder, worktrees: ExitStack
) -> JobRun | Release:
    """The ``plan`` stage: the base, the coder, how many candidates; or, if an earlier
    run of the job got as far as the tag, that release (finished here)."""
    with recorder.stage("plan") as lines:
        done = released_by(ctx.releases, job.id)
        if done is not None:
            finish_released(ctx.deliverer, ctx.settings.workspace_path, done)
            lines.append(f"released {done.version} by an earlier run")
            return done
        active, commit = _base(ctx)
        request = CodingRequest(
            job.id,
            job.text,
            ctx.jobs.patch_of(job.id),
            job.evidence,
            active.version,
            tried=_tried(ctx, job, active.version),
        )
        coder = coder_for(request, ctx.settings)
        ctx.jobs.set_coder(job.id, coder.name)
        sandbox, warning = sandbox_gate(coder)  # Rejected: nothing of the candidates runs
        lines.append(sandbox)
        if warning is not None:
            ctx.jobs.add_warning(job.id, warning)
            lines.append(f"warning: {warning}")
        lines += coder.notes(request)
        count = coder.candidates(request)
        build = ctx.builds.ensure(commit)
        lines.append(
            f"attempt {job.attempts}: active {active.version} at {commit[:12]}; "
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
    return JobRun(
        ctx=ctx,
        job=job,
        recorder=recorder,
        book=book,
        active=active,
        base_commit=commit,
        build=build,
        coder=coder,
        request=request,
        candidates=count,
        worktrees=worktrees,
    )


def _base(ctx: ArchitectContext) -> tuple[ActiveState, str]:
    """The active release and its commit: what the job changes; Rejected if there is none,
    the pointer is pinned or another home made it."""
    active = ctx.manager.read_active()
    if active is None or active.pointer.commit is None:
        raise Rejected("no active release with a commit: run `ratchet init` first")
    try:
        ctx.manager.refuse_if_pinned()
        refuse_if_made_elsewhere(ctx.manager, ctx.releases)  # checked again under the lock
    except (PinnedError, ConflictError) as exc:
        raise Rejected(str(exc)) from None
    return active, active.pointer.commit


def _tried(ctx: ArchitectContext, job: Job, base_version: str) -> tuple[LedgerEntry, ...]:
    """Other jobs' proposals on this base: a run of this job after a restart redoes
    its own candidates as they were, not minus the ones its first run settled."""
    return tuple(
        entry
        for entry in ctx.ledger.entries(limit=LEDGER_LOOKBACK, base_version=base_version)
        if entry.job_id != job.id
    )


def _build_candidates(run: JobRun) -> list[Candidate]:
    """Every candidate through the gates up to ``fast``: the survivors; Rejected if none."""
    survivors: list[Candidate] = []
    failures: list[Rejected] = []
    for index in range(run.candidates):
        run.book.open(index + 1)
        try:
            survivors.append(build_candidate(run, index))
        except Rejected as exc:
            run.book.settle(index + 1, CandidateStatus.REJECTED, f"failed {exc.stage}: {exc}")
            failures.append(exc)
    if not survivors:
        raise none_kept(failures)
    return survivors


def _rank(run: JobRun, survivors: list[Candidate]) -> tuple[list[Candidate], Baseline]:
    """The ``rank`` stage: the base's scores, and the survivors that beat it on dev, best
    first; Rejected if none does."""
    with run.recorder.stage("rank") as lines:
        base = baseline(run.active, run.build, run.ctx.objects, run.ctx.ci)
        lines.append(
            f"baseline {base.version}: heldout {base.metric('heldout_accuracy')}, "
            f"dev {base.metric('dev_accuracy')}" + (" (measured now)" if base.measured_now else "")
        )
        ranked = screen(survivors, base, run.book, lines, run.coder.must_improve)
        if not ranked:
            records = run.book.records
            reasons = [f"candidate {c.number}: {records[c.number].reason}" for c in survivors]
            raise Rejected(
                records[survivors[0].number].reason
                if len(survivors) == 1
                else "no candidate passes the dev comparison: " + "; ".join(reasons)
            )
    return ranked, base


def _release(run: JobRun, chosen: Candidate, base: Baseline) -> Release:
    """The ``release`` stage: the chosen candidate tagged and served."""
    with run.recorder.stage("release") as lines:
        release = release_candidate(run, chosen, base, lines)
        delivery = run.ctx.deliverer.describe(release.version)
        lines.append(f"released {release.version} at {release.commit[:12]}; {delivery}")
        if run.ctx.deliverer.rollouts.of_version(release.version) is None:
            lines.append(ask_tuner(run.ctx, run.job.id, release, chosen.state))
        else:  # the Tuner tunes what is served: the rollout controller asks on promotion
            lines.append("the Tuner is asked to tune it if its rollout promotes it")
    return release
