"""A running job's heartbeat: the worker's lease on it, renewed from a thread.

The job's own thread is busy with the pipeline (tiers, coders) for minutes at a
time, so a background thread renews the lease every quarter of it while the
job runs. Should a renewal find the job no longer this worker's (it stalled past
the lease and another Architect queued the job again), the beat stops and says
so in the log: the other run's result stands.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from .jobs import JobStore

log = logging.getLogger(__name__)


class Heartbeat:
    """``with Heartbeat(jobs, job_id, lease_s):`` beats for the block's length."""

    def __init__(self, jobs: JobStore, job_id: str, lease_s: float) -> None:
        self.jobs = jobs
        self.job_id = job_id
        self.interval = lease_s / 4
        self.lost = False  # the lease ran out under us: another worker may run the job
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{job_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                renewed = self.jobs.heartbeat(self.job_id)
            except Exception:  # a database hiccup: the next beat may get through
                log.exception("job %s: heartbeat failed", self.job_id)
                continue
            if not renewed:
                if self._stop.is_set() or self.jobs.get(self.job_id).status.final:
                    return  # the job ended between the last beat and this one
                self.lost = True
                log.error(
                    "job %s: its lease ran out and it is no longer this worker's "
                    "(another Architect may run it again)",
                    self.job_id,
                )
                return
