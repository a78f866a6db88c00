"""The job worker: one thread running queued jobs one at a time, oldest first.

Several Architects may share one job queue (``RATCHET_DATABASE_URL``): each claims
the oldest queued job (:mod:`.jobs.queue`) and holds a lease on it, renewed by a
heartbeat while the job runs (:mod:`.heartbeat`). A running job whose worker
stopped beating for longer than ``RATCHET_ARCHITECT_JOB_LEASE_S`` is queued again
by whichever Architect looks next (each looks before every claim), or failed for
good past its attempts; a live worker's job is never taken from it.

On start it finishes what a killed process left: the processes its tiers and
coders had started and that outlived it are killed (the direct children die
with it by their parent-death signal; their descendants are found by the
records of :mod:`ratchet.ci.children`), worktrees are removed, a job whose
release was tagged is completed (pointer moved, ``succeeded``). Which running
jobs it takes back then depends on where the queue lives:

- the home's SQLite file (the default): one Architect per home is the rule, so
  every ``running`` job is its own killed predecessor's, queued again at once
  (a restart after SIGKILL resumes its job without waiting for the lease);
- Postgres: other Architects' jobs live in the same table, so only jobs whose
  lease ran out are taken back (a sole Architect restarted after a SIGKILL waits
  for its old lease to run out before its job runs again).

The home's worktrees and orphaned processes are its own, so Architects sharing a
queue each need their own home folder.

While a release is on its way to traffic (a rollout live or queued) queued
jobs wait: each starts from what is served. A rollout held for a person
holds the jobs too, until `ratchet rollout promote|abort`.

Jobs run one at a time on the worker's own long-lived thread, synchronously:
a tier's processes are started and stopped on that thread, which matters
because Linux delivers the parent-death signal when the forking *thread*
exits.
"""

from __future__ import annotations

import logging
import threading

from ratchet.ci.children import reap_orphans
from ratchet.rollouts.store import live_of, next_queued
from ratchet.vcs.worktrees import remove_worktree

from .context import ArchitectContext
from .heartbeat import Heartbeat
from .jobs import Job, JobStatus
from .pipeline import run_job
from .release import finish_released, released_by

log = logging.getLogger(__name__)


def recover(ctx: ArchitectContext) -> list[Job]:
    """At start: bring the jobs a dead process left ``running`` to a runnable or final
    status (all of them on the home's SQLite file; those whose lease ran out on a
    shared database)."""
    leftovers = reap_orphans()
    if leftovers:
        log.warning("killed %d process(es) a killed process's tiers left running", len(leftovers))
    if ctx.worktrees.is_dir():
        for leftover in ctx.worktrees.iterdir():
            remove_worktree(ctx.settings.workspace_path, leftover)
    shared = ctx.settings.database is not None
    return take_back(ctx, ctx.settings.job_lease_s if shared else None)


def take_back(ctx: ArchitectContext, lease_s: float | None) -> list[Job]:
    """Running jobs whose worker stopped beating for ``lease_s`` (all when None): a job
    whose release was tagged is completed, the others queued again or failed."""
    stale = ctx.jobs.stale(lease_s)
    if not stale:  # the usual case: no write transaction for nothing
        return []
    for job in stale:
        release = released_by(ctx.releases, job.id)
        if release is not None:
            finish_released(ctx.deliverer, ctx.settings.workspace_path, release)
            ctx.jobs.finish(
                job.id,
                JobStatus.SUCCEEDED,
                f"released {release.version} (finished after a restart)",
                version=release.version,
            )
    recovered = ctx.jobs.recover(ctx.settings.max_attempts, lease_s=lease_s)
    for job in recovered:
        log.warning("job %s interrupted: now %s", job.id, job.status)
    return recovered


class Worker:
    def __init__(self, ctx: ArchitectContext, *, idle_wait: float = 1.0) -> None:
        self.ctx = ctx
        self.idle_wait = idle_wait
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._waited_for: str | None = None  # the rollout jobs last waited for (logged once)
        self._thread = threading.Thread(target=self._loop, name="architect-worker", daemon=True)

    def start(self) -> None:
        recover(self.ctx)
        self._thread.start()

    def notify(self) -> None:
        """A job was queued: look now rather than at the next idle tick."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking jobs; a job in progress is left to the next start's recovery."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def run_pending(self) -> list[Job]:
        """Run queued jobs until none is left (the thread's loop; also for tests)."""
        done = []
        lease = self.ctx.settings.job_lease_s
        while not self._stop.is_set() and not self._rollout_in_flight():
            take_back(self.ctx, lease)  # jobs of workers that stopped beating
            job = self.ctx.jobs.claim_next()
            if job is None:
                break
            log.info("job %s: started (attempt %d)", job.id, job.attempts)
            try:
                with Heartbeat(self.ctx.jobs, job.id, lease) as beat:
                    finished = run_job(self.ctx, job, lost=lambda: beat.lost)
            except Exception as exc:  # never leave a job running because of a bug here
                log.exception("job %s crashed the worker", job.id)
                finished = self.ctx.jobs.finish(
                    job.id, JobStatus.FAILED, f"internal error: {type(exc).__name__}: {exc}"
                )
            log.info("job %s: %s (%s)", job.id, finished.status, finished.reason)
            done.append(finished)
        return done

    def _rollout_in_flight(self) -> bool:
        """Whether a release is still on its way to traffic (a rollout live or queued): jobs
        wait, so each one starts from what is served and its release is compared with
        that, not with a canary that live feedback may yet abort."""
        rollouts = self.ctx.deliverer.rollouts.all()
        waiting = live_of(rollouts) or next_queued(rollouts)
        if waiting is not None and waiting.id != self._waited_for:
            log.info(
                "jobs wait for rollout %s of %s (%s)", waiting.id, waiting.version, waiting.status
            )
        self._waited_for = None if waiting is None else waiting.id
        return waiting is not None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_pending()
            self._wake.wait(self.idle_wait)
            self._wake.clear()
