"""Recording a job's stages as they run: status, timing and a log tail per stage."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ratchet.errors import RatchetError
from ratchet.sandbox import SandboxUnavailable

from .jobs import JobStore, StageStatus


class Rejected(RatchetError):
    """A gate said no: the job ends ``rejected`` with this reason and stage."""

    def __init__(self, reason: str, stage: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.stage = stage


class StageFailed(RatchetError):
    """An unexpected error inside a stage: the job ends ``failed``."""

    def __init__(self, stage: str, cause: BaseException) -> None:
        super().__init__(f"internal error in stage {stage}: {type(cause).__name__}: {cause}")
        self.stage = stage


class LeaseLost(RatchetError):
    """This Architect's lease on the job ran out (it stalled past
    ``RATCHET_ARCHITECT_JOB_LEASE_S``) and the job was queued again for another: this
    run stops without a release and without writing the job's end."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id}: the lease ran out; another Architect runs it now")


class Recorder:
    def __init__(
        self, jobs: JobStore, job_id: str, lost: Callable[[], bool] = lambda: False
    ) -> None:
        self.jobs = jobs
        self.job_id = job_id
        self.lost = lost  # the run's lease ran out: the job's record is another run's now

    @contextmanager
    def stage(self, name: str, candidate: int | None = None) -> Iterator[list[str]]:
        """Run a stage (of candidate ``candidate``, 1-based, if given: each candidate's
        run of a stage is its own record); the block appends log lines to its list.
        A run whose lease ran out writes no more stages: LeaseLost at the next one."""
        if self.lost():
            raise LeaseLost(self.job_id)
        self.jobs.stage_started(self.job_id, name, candidate=candidate)
        started = time.monotonic()
        lines: list[str] = []

        def done(status: StageStatus) -> None:
            if self.lost():
                return
            self.jobs.stage_finished(
                self.job_id,
                name,
                status,
                time.monotonic() - started,
                "\n".join(lines),
                candidate=candidate,
            )

        try:
            try:
                yield lines
            except SandboxUnavailable as exc:  # the plan refuses these jobs; a reason, not a crash
                raise Rejected(f"{exc}; no candidate can run; see `ratchet doctor`") from None
        except LeaseLost:
            raise  # the stage's record is the other run's now
        except Rejected as exc:
            lines.append(exc.reason)
            done(StageStatus.FAILED)
            exc.stage = exc.stage or name
            raise
        except Exception as exc:
            lines.append(f"{type(exc).__name__}: {exc}")
            done(StageStatus.FAILED)
            raise StageFailed(name, exc) from exc
        done(StageStatus.PASSED)
