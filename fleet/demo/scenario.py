"""The main loop shown end to end on a running fleet (``ratchet demo`` and the e2e test).

1. **learn**: the task's training messages (train split only) routed through the
   Runner; their true intents come back late as Tuner feedback; ``mine_rules``
   and ``promote`` release a patch version per round.
2. **degrade**: traffic shifts to new wording of the intents the active
   release routes worst, found by routing the task's dev split: messages of
   the dev split (carved from the training data, never trained on; the
   held-out split stays the full tier's alone),
   mixed with training traffic and corrected as before, until the
   routing-accuracy SLO burns and the Triggerer opens a ``wake`` job. Training
   messages alone cannot degrade it: the ``blend`` arm's nearest neighbours
   have seen every one of them.
3. **the Architect's release**: traffic pauses while the job's CI runs (its
   latency budget is measured on this machine); the job's minor release is
   rolled out (a canary beside the stable version, degraded traffic with
   feedback until the rollout controller promotes or aborts it,
   :mod:`fleet.demo.rollout`), then the degraded traffic replays on it. Every
   patch the Tuner releases is rolled out the same way, on its traffic.
4. **the record**: every release with its evals from the Versions API (those
   without a summary measured now, the way the Architect measures a
   baseline), the best release left active, a chart and an HTML report.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
from mcp import Client

from ratchet import datasets
from ratchet.bootstrap import initialize, open_manager
from ratchet.builds import BuildStore
from ratchet.ci.agent_process import agent_process
from ratchet.config import CommonSettings
from ratchet.datasets import Example
from ratchet.errors import RatchetError
from ratchet.objects import open_object_store
from ratchet.rollouts.store import RolloutStore
from ratchet.tasks import Task, find_task
from ratchet.tasks.heldout import heldout_rows
from ratchet.vcs.workspace import default_project_root

from . import weak
from .follow_up import feedback_text, routing_objective
from .launch import Fleet, running_fleet
from .plan import DemoPlan, Progress
from .record import keep_best, measure_missing, releases
from .report import ReleaseRow, accuracy_over_time, first_served, write_report
from .rollout import RolloutDriver
from .traffic import Replay, Turn, call

FINAL = ("succeeded", "rejected", "failed")


class DemoFailed(RatchetError):
    """A step of the demo did not happen in time (the message says which)."""


@dataclass
class DemoResult:
    home: Path
    task: str  # the name of the task the home serves
    releases: list[ReleaseRow]
    turns: list[Turn]
    wake_job: dict[str, Any] | None
    best: str | None
    active: str | None
    png: Path | None = None
    html: Path | None = None
    degraded_at: float | None = None
    hard_intents: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    events: int = 0  # Tuner summary events published (one per promotion)


def hardest_intents(examples: Sequence[Example], answers: Sequence[str], count: int) -> list[str]:
    """The ``count`` intents with the lowest accuracy of ``answers`` on ``examples``."""
    seen: dict[str, list[bool]] = defaultdict(list)
    for example, answer in zip(examples, answers, strict=True):
        seen[example.intent].append(example.intent == answer)
    rated = sorted((sum(v) / len(v), intent) for intent, v in seen.items())
    return [intent for _, intent in rated[:count]]


def mixed(
    shifted: Sequence[Example], usual: Sequence[Example], size: int, share: float, seed: int
) -> list[Example]:
    """``size`` messages, a ``share`` of them from ``shifted``, the rest from ``usual``."""
    rng = random.Random(seed)
    return [rng.choice(shifted) if rng.random() < share else rng.choice(usual) for _ in range(size)]


class Scenario:
    def __init__(
        self,
        settings: CommonSettings,
        plan: DemoPlan,
        progress: Progress,
    ) -> None:
        self.settings = settings
        self.plan = plan
        self.progress = progress
        self.turns: list[Turn] = []
        self.timings: dict[str, float] = {}
        self.started = time.monotonic()

    # -- the run -------------------------------------------------------------------

    def run(self, extra_env: dict[str, str] | None = None) -> DemoResult:
        plan = self.plan
        env = {**plan.fleet_env(), **self._task_env(), **(extra_env or {})}
        task, train = self.prepare()
        self.progress.phase("starting the fleet (`ratchet up`)")
        with running_fleet(self.settings.home_path, env) as f:
            self._lap("fleet start")
            for name, url in f.urls.items():
                self.progress.note(f"{name:<10} {url}")
            replay = Replay(
                f.url("runner"),
                f.url("tuner"),
                started=self.started,
                clients=plan.clients,
                feedback_delay_s=plan.feedback_delay_s,
            )
            self.driver = RolloutDriver(
                RolloutStore(open_manager(self.settings).store),
                plan,
                self.progress,
                lambda batch, phase: self._replay(replay, batch, phase, None),
                lambda version: self._wait_served(f, version),
            )
            self._learn(f, replay, train)
            self._lap("learning")
            hard, shifted = self.degradation()
            degraded_at = time.monotonic() - self.started
            wake = self._degrade(f, replay, shifted, train)
            self._lap("degraded until the wake-up")
            job = self._follow(f, wake["id"])
            self._lap("the Architect's job")
            live = mixed(shifted, train, plan.rollout_max_turns, plan.degraded_share, plan.seed)
            if job["status"] == "succeeded" and job.get("version"):
                self.driver.see_through(str(job["version"]), live, "rollout")
                self._lap("the release's rollout")
                self._wait_tuned(f, job, live)
                self._lap("the Tuner's tune of the release")
                after = mixed(shifted, train, plan.after_turns, plan.degraded_share, plan.seed)
                self._replay(replay, after, "after", "degraded traffic on the new release")
                self._lap("after the release")
                if plan.follow_up:
                    job = self._second_job(f, job, replay, after, live)
            if plan.weak_candidate:
                self._weak_release(f, live)
                self._lap("the weak candidate")
            rows = releases(self.settings, f.url("versions"), first_served(self.turns))
        return self._record(task.name, rows, job, degraded_at, hard)

    def prepare(self) -> tuple[Task, list[Example]]:
        """The home made (serving the task), its task and the training traffic, shuffled."""
        initialize(self.settings)  # the workspace: this project's tree, serving the task
        task = datasets.task(self.settings.workspace_path)
        self.progress.note(
            f"task {task.name}: {len(task.labels)} intents, "
            f"{len(task.train_rows)} training rows, "
            f"{heldout_rows(task, self.settings.heldout_path)} held out"
        )
        train = list(datasets.load(self.settings.workspace_path, "train"))
        random.Random(self.plan.seed).shuffle(train)
        return task, train

    def degradation(self) -> tuple[list[str], list[Example]]:
        """The intents the active release routes worst, and the new wording of them.

        New wording: the task's dev messages of those intents, carved from its
        training data but never trained on (nor replayed while learning).
        """
        dev = list(datasets.load(self.settings.workspace_path, "dev"))
        hard = self._hardest(dev)
        shifted = [e for e in dev if e.intent in hard]
        self.progress.note(
            f"degradation: {self.plan.degraded_share:.0%} of traffic now new wording of "
            f"{', '.join(hard)}"
        )
        return hard, shifted

    def _task_env(self) -> dict[str, str]:
        """``RATCHET_TASK`` for ``ratchet up``: the requested task's folder, when one is.

        Set explicitly so a ``RATCHET_TASK`` of the caller's environment that names
        another task cannot make ``ratchet up`` refuse the home the demo made.
        """
        spec = self.settings.task
        if spec is None:
            return {}
        root = self.settings.project_root or default_project_root()
        return {"RATCHET_TASK": str(find_task(spec, root))}

    # -- steps ---------------------------------------------------------------------

    def _learn(self, fleet: Fleet, replay: Replay, train: Sequence[Example]) -> None:
        """Each round: training messages routed with feedback, then a patch promoted."""
        cursor = 0
        for round_ in range(self.plan.learn_rounds):
            batch = train[cursor : cursor + self.plan.turns_per_round]
            cursor += len(batch)
            self._replay(replay, batch, "learn", f"round {round_ + 1}: routing + feedback")
            version = self._promote(fleet)
            if version is not None:  # rolled out on the training traffic still to come
                self.driver.see_through(version, [*train[cursor:], *train[:cursor]], "learn")

    def _record(
        self,
        task: str,
        rows: list[ReleaseRow],
        job: dict[str, Any],
        degraded_at: float,
        hard: list[str],
    ) -> DemoResult:
        """The releases measured, the best kept active, the chart and report written."""
        if self.plan.measure_missing:
            rows = measure_missing(self.settings, self.plan, self.progress, rows)
            self._lap("measuring releases")
        best, active = keep_best(self.settings, self.progress, rows)
        result = DemoResult(
            self.settings.home_path,
            task,
            rows,
            self.turns,
            job,
            best,
            active,
            degraded_at=degraded_at,
            hard_intents=hard,
            events=len(open_object_store(self.settings).list("events/tuner/")),
        )
        result.png, result.html = write_report(
            self.settings.home_path / "report",
            accuracy_over_time(self.turns),
            rows,
            self._facts(result),
            degraded_at=degraded_at,
            task=task,
        )
        self._lap("report")
        result.timings = dict(self.timings)
        return result

    def _lap(self, name: str) -> None:
        now = time.monotonic() - self.started
        self.timings[name] = now - sum(self.timings.values())

    def _replay(
        self, replay: Replay, batch: Sequence[Example], phase: str, what: str | None
    ) -> None:
        """Route ``batch``; a new progress phase unless ``what`` is None (the current goes on)."""
        if what is not None:
            self.progress.phase(f"{what}: {len(batch)} turns", len(batch))
        self.turns += anyio.run(replay.run, batch, phase, lambda turn: self.progress.advance())

    def _promote(self, fleet: Fleet) -> str | None:
        """``mine_rules`` and ``promote`` on the Tuner: the patch released, if one was."""

        async def promote() -> dict[str, Any]:
            async with Client(f"{fleet.url('tuner')}/mcp") as tuner:
                if self.plan.mine_rules:
                    mined = await call(tuner, "mine_rules")
                    self.progress.note(f"mine_rules: {_brief(mined)}")
                return await call(tuner, "promote")

        self.progress.phase("Tuner: mine_rules + promote")
        promoted = anyio.run(promote)
        if not promoted["promoted"]:
            self.progress.note(f"promote: not released ({promoted['reason']})")
            return None
        self.progress.note(f"promote: {promoted['reason']}")
        return str(promoted["version"])

    def _hardest(self, dev: Sequence[Example]) -> list[str]:
        """The intents the active release routes worst on the dev split (the harness's agent)."""
        self.progress.phase("finding the intents the active release routes worst (dev split)")
        active = open_manager(self.settings).read_active()
        assert active is not None and active.pointer.commit is not None
        build = BuildStore.open(self.settings)
        code_root = build.ensure(active.pointer.commit)
        with agent_process(code_root, [e.text for e in dev], "fast") as agent:
            answers = agent.route(active.document)
        return hardest_intents(dev, answers, self.plan.hard_intents)

    def _degrade(
        self, fleet: Fleet, replay: Replay, shifted: list[Example], usual: list[Example]
    ) -> dict[str, Any]:
        """Degraded traffic in chunks until the Triggerer's wake job appears (or the
        plan's deadline passes: :meth:`DemoPlan.wake_deadline_s`)."""
        sent = 0
        self.progress.phase("degraded traffic until the Triggerer wakes the Architect", None)
        started = time.monotonic()
        deadline = started + self.plan.wake_deadline_s()
        while True:
            chunk = mixed(shifted, usual, self.plan.degraded_chunk, self.plan.degraded_share, sent)
            self._replay(replay, chunk, "degraded", None)
            sent += len(chunk)
            jobs = httpx.get(f"{fleet.url('architect')}/jobs", timeout=10).json()["jobs"]
            woken = [j for j in jobs if j["kind"] == "wake"]
            if woken:
                self.progress.note(f"Triggerer: {woken[0]['text']}")
                return dict(woken[0])
            if time.monotonic() >= deadline:
                break
        raise DemoFailed(
            f"no wake-up after {sent} degraded turns in {time.monotonic() - started:.0f} s; "
            f"see {fleet.log_path.parent}"
        )

    def _follow(self, fleet: Fleet, job_id: str) -> dict[str, Any]:
        """Poll the job until it is final; then show its stages and candidates.

        A candidate stage's row sums every candidate's run of it, so its time is
        only known once the job is done: the stages are shown then, not as they go.
        """
        self.progress.phase(f"Architect job {job_id}: template coder + CI tiers")
        deadline = time.monotonic() + self.plan.job_timeout_s
        with httpx.Client(timeout=10) as http:
            while time.monotonic() < deadline:
                job: dict[str, Any] = http.get(f"{fleet.url('architect')}/jobs/{job_id}").json()
                if job["status"] in FINAL:
                    for stage in job.get("stages", []):
                        if stage.get("seconds") is not None:
                            self.progress.note(f"  {stage['name']} {stage['seconds']:.1f}s")
                    for candidate in job.get("candidates", []):
                        self.progress.note(
                            f"  candidate {candidate['index']}: {candidate['summary']} -> "
                            f"{candidate['status']}"
                            + (f" ({candidate['reason']})" if candidate.get("reason") else "")
                        )
                    verdict = job.get("version") or job.get("reason")
                    self.progress.note(f"job {job['status']}: {verdict}")
                    return job
                time.sleep(0.5)  # a poll interval against a REST API, not a readiness wait
        raise DemoFailed(f"job {job_id} not final after {self.plan.job_timeout_s:.0f} s")

    def _second_job(
        self,
        fleet: Fleet,
        first: dict[str, Any],
        replay: Replay,
        after: list[Example],
        live: list[Example],
    ) -> dict[str, Any]:
        """Under the routing objective after the first release: the feedback a person would
        write, the Architect's job for it, its release served and tuned, and the same
        traffic replayed on it. The job that decides the demo's outcome is returned."""
        objective = routing_objective(self.settings.workspace_path)
        text = feedback_text(self.turns, "after", str(first["version"]), objective)
        if text is None:
            self.progress.note(f"{first['version']} meets the {objective:.0%} objective")
            return first
        self.progress.note(f"feedback: {text}")
        with httpx.Client(timeout=10) as http:
            accepted = http.post(f"{fleet.url('architect')}/feedback", json={"text": text})
            accepted.raise_for_status()
        job = self._follow(fleet, accepted.json()["job_id"])
        self._lap("the Architect's second job")
        if job["status"] != "succeeded" or not job.get("version"):
            return first  # the first release stays the outcome; the second job is in the log
        if self.driver.see_through(str(job["version"]), live, "rollout-2") == "aborted":
            return first  # live feedback kept the first release serving
        self._wait_tuned(fleet, job, live)
        self._replay(replay, after, "after-2", "the same traffic on the second release")
        self._lap("after the second release")
        return job

    def _weak_release(self, fleet: Fleet, live: list[Example]) -> None:
        """The deliberately weak candidate through the ``patch`` coder, and its rollout."""
        self.progress.note(f"feedback with a patch: {weak.TEXT}")
        body = {"text": weak.TEXT, "patch": weak.weak_patch(self.settings.workspace_path)}
        with httpx.Client(timeout=10) as http:
            accepted = http.post(f"{fleet.url('architect')}/feedback", json=body)
            accepted.raise_for_status()
        job = self._follow(fleet, accepted.json()["job_id"])
        if job["status"] != "succeeded" or not job.get("version"):
            self.progress.note(f"the weak candidate was not released: {job.get('reason')}")
            return
        outcome = self.driver.see_through(str(job["version"]), live, "weak")
        self.progress.note(f"the weak candidate {job['version']}: {outcome} on live feedback")

    def _wait_tuned(self, fleet: Fleet, job: dict[str, Any], live: list[Example]) -> None:
        """The Tuner's tune of the job's release (the Architect asked for it once the
        release served everyone): its patch rolled out on ``live`` traffic when tuning
        won, else its verdict noted. Never fails the demo."""
        version = str(job["version"])
        if self.driver.outcomes.get(version) == "aborted":
            return  # not served, so not tuned
        if any("Tuner" in warning for warning in job.get("warnings", [])):
            self.progress.note(f"no tune of {version}: {job['warnings']}")
            return
        self.progress.phase(f"Tuner: CMA-ES on {version}'s params (dev split)")

        async def tuned() -> dict[str, Any] | None:
            deadline = time.monotonic() + self.plan.tune_timeout_s
            async with Client(f"{fleet.url('tuner')}/mcp") as tuner:
                while time.monotonic() < deadline:
                    tuning = (await call(tuner, "status"))["release_tuning"]
                    if tuning["release"] == version and tuning["phase"] != "running":
                        return dict(tuning)
                    await anyio.sleep(0.5)  # a poll of a tool's progress, not a readiness wait
            return None

        tuning = anyio.run(tuned)
        if tuning is None:
            self.progress.note(
                f"the Tuner did not finish {version} in {self.plan.tune_timeout_s} s"
            )
            return
        self.progress.note(f"tune_release: {tuning['phase']}: {tuning['reason']}")
        if tuning["phase"] == "released" and tuning.get("version"):
            self.driver.see_through(str(tuning["version"]), live, "rollout")

    def _wait_served(self, fleet: Fleet, version: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=10) as http:
            while time.monotonic() < deadline:
                if http.get(f"{fleet.url('runner')}/healthz").json().get("version") == version:
                    return
                time.sleep(0.1)
        raise DemoFailed(f"the Runner did not serve {version} within {timeout:.0f} s")

    def _facts(self, result: DemoResult) -> list[tuple[str, str]]:
        wake = result.wake_job or {}
        right = sum(t.right for t in result.turns)
        return [
            ("task", result.task),
            ("home", str(result.home)),
            ("turns routed", f"{len(result.turns)} ({right} right)"),
            ("degraded traffic", ", ".join(result.hard_intents)),
            ("wake-up", str(wake.get("text", "none"))),
            ("Architect job", f"{wake.get('id', '—')}: {wake.get('status', '—')}"),
            ("best release (left active)", str(result.best)),
            ("Tuner summary events", str(result.events)),
            *((f"time: {k}", f"{v:.1f} s") for k, v in self.timings.items()),
        ]


def _brief(mined: dict[str, Any]) -> str:
    """One line for a ``mine_rules`` result."""
    if "kept" not in mined:
        return "done"
    return (
        f"{len(mined['kept'])} rule(s) kept of {mined.get('candidates')} mined from "
        f"{mined.get('mistakes')} corrected mistakes; dev accuracy "
        f"{mined.get('dev_accuracy_before')} -> {mined.get('dev_accuracy_after')}"
    )
