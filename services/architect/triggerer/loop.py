"""The Triggerer in the Architect's process: polls the sources, evaluates, queues wake jobs.

Every ``interval_s`` one :meth:`Triggerer.tick` reads the SLOs of the active
workspace's ``ci/budgets.json`` (so a release that tightens them applies at
once), polls the sources, feeds the evaluator and turns each wake-up into a
``wake`` job exactly as ``POST /wake`` does, the incident id as idempotency
key; a rollout the analysis aborted opens one too (:mod:`.aborts`). State is
in memory: a restarted Architect starts watching afresh.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ratchet.ci.budgets import load_budgets
from ratchet.errors import CorruptDocumentError, NotFoundError
from ratchet.rollouts.store import RolloutStore
from ratchet.sessions import SessionStore
from ratchet.tasks import active_name

from ..context import ArchitectContext
from ..jobs import Job, JobKind, JobStore
from . import aborts
from .evaluator import Evaluator, Sample
from .slo import SloConfig, parse_slos
from .sources import ERROR_RATE, LATENCY, ROUTING_ACCURACY, Corrections, RunnerMetrics

log = logging.getLogger(__name__)
MEASURED = (ERROR_RATE, LATENCY, ROUTING_ACCURACY)


class Triggerer:
    def __init__(
        self,
        *,
        jobs: JobStore,
        code_root: Path,
        runner: RunnerMetrics,
        corrections: Corrections | None,
        cooldown_s: float,
        interval_s: float,
        notify: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
        period_days: float | None = None,
        rollouts: RolloutStore | None = None,
    ) -> None:
        self.jobs = jobs
        self.code_root = code_root
        self.runner = runner
        self.corrections = corrections
        self.cooldown_s = cooldown_s
        self.interval_s = interval_s
        self.notify = notify
        self.clock = clock
        self.period_days = period_days  # overrides the budgets' period (compressed windows)
        self.rollouts = rollouts  # aborted rollouts are evidence (triggerer/aborts.py)
        self.started_at = clock()
        self.evaluator: Evaluator | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="triggerer", daemon=True)

    @classmethod
    def from_context(cls, ctx: ArchitectContext, notify: Callable[[], None]) -> Triggerer:
        settings = ctx.settings
        token = settings.token.get_secret_value() if settings.token else None
        return cls(
            jobs=ctx.jobs,
            code_root=settings.workspace_path,
            runner=RunnerMetrics(
                settings.runner_metrics_url,
                token=token,
                first_window_s=settings.triggerer_interval,
            ),
            corrections=Corrections(SessionStore.open(settings)),
            cooldown_s=settings.triggerer_cooldown,
            interval_s=settings.triggerer_interval,
            notify=notify,
            period_days=settings.triggerer_period_days,
            rollouts=ctx.deliverer.rollouts,
        )

    # -- one evaluation -----------------------------------------------------------

    def tick(self, now: float | None = None) -> list[Job]:
        """Poll, evaluate and queue the wake jobs due; the jobs created."""
        now = self.clock() if now is None else now
        evaluator = self._evaluator()
        if evaluator is None:
            return []
        latency = evaluator.config.slos.get(LATENCY)
        samples: dict[str, Sample] = dict(
            self.runner.poll(now, None if latency is None else latency.threshold)
        )
        if self.corrections is not None:
            samples.update(self.corrections.poll(now))
        for slo, sample in samples.items():
            if slo in evaluator.config.slos:
                evaluator.observe(slo, sample)
        aborted = [] if self.rollouts is None else aborts.aborted_by_analysis(self.rollouts)
        created = []
        for wake in evaluator.evaluate(now):
            evidence = {**wake.evidence, **self._context()}
            if aborted:
                evidence["aborted_rollouts"] = [
                    aborts.summary(r) for r in aborted[-aborts.RECENT :]
                ]
            created += self._wake(f"SLO alarm: {wake.reason}", wake.incident, evidence)
        for rollout in aborted:
            evidence = {
                "aborted_rollout": aborts.summary(rollout),
                **self._context(rollout.version),
            }
            created += self._wake(
                aborts.wake_text(rollout), aborts.idempotency_key(rollout), evidence
            )
        if created:
            self.notify()
        return created

    def _context(self, version: str | None = None) -> dict[str, Any]:
        """The corrected conversations seen lately (of ``version`` only, if given), and the
        task whose labels they carry."""
        if self.corrections is None:
            return {}
        failing = self.corrections.failing_conversations()
        if version is not None:
            failing = [f for f in failing if f.get("version") == version]
        context: dict[str, Any] = {"failing_conversations": failing}
        task = self._task()
        if task is not None:  # whose labels the answers and corrections are
            context["task"] = task
        return context

    def _wake(self, text: str, key: str, evidence: dict[str, Any]) -> list[Job]:
        """A wake job, once per ``key``: the job if it is new."""
        job, new = self.jobs.create(JobKind.WAKE, text, idempotency_key=key, evidence=evidence)
        if new:
            log.warning("triggerer: %s -> job %s", text, job.id)
        return [job] if new else []

    def _task(self) -> str | None:
        """The task the workspace serves; None for a tree that names none."""
        try:
            return active_name(self.code_root)
        except NotFoundError:
            return None

    def _evaluator(self) -> Evaluator | None:
        try:
            config = parse_slos(load_budgets(self.code_root))
        except CorruptDocumentError as exc:
            log.warning("triggerer: %s (keeping the SLOs read before)", exc)
            return self.evaluator
        measured = {k: v for k, v in config.slos.items() if k in MEASURED}
        if self.corrections is None:
            measured.pop(ROUTING_ACCURACY, None)
        config = SloConfig(period_days=self.period_days or config.period_days, slos=measured)
        if self.evaluator is None:
            self.evaluator = Evaluator(
                config, started_at=self.started_at, cooldown_s=self.cooldown_s
            )
        elif config != self.evaluator.config:
            self.evaluator.configure(config)
        return self.evaluator

    # -- the background thread ----------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self.runner.close()
        if self.corrections is not None:
            self.corrections.sessions.close()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.tick()
            except Exception:  # a bug here must not stop the watch, nor the Architect
                log.exception("triggerer: evaluation failed")
