"""The Triggerer's loop adapter in-process: real job store, real sessions DB, a fake Runner."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from ratchet.config import RolloutMode
from ratchet.objects import ObjectStore
from ratchet.rollouts.delivery import conclude, deliver
from ratchet.rollouts.model import Decision, Outcome
from ratchet.rollouts.store import RolloutStore
from ratchet.sessions import SessionStore
from ratchet.state import StateDocument, StateManager
from services.architect.app import create_app
from services.architect.context import ArchitectContext
from services.architect.jobs import JobKind, JobStatus, JobStore
from services.architect.settings import ArchitectSettings
from services.architect.triggerer import Triggerer
from services.architect.triggerer.sources import Corrections, RunnerMetrics, latency_over
from tests.conftest import PROJECT_ROOT
from tests.helpers.turns import answered

T0 = 1_700_000_000.0
MINUTE, HOUR = 60.0, 3600.0


def fake_runner(error_rate: Callable[[], float | None]) -> httpx.Client:
    """A Runner answering ``/metrics?window=S`` with 20 calls a second; None: unreachable."""

    def handler(request: httpx.Request) -> httpx.Response:
        rate = error_rate()
        if rate is None:
            raise httpx.ConnectError("connection refused", request=request)
        calls = round(20 * float(request.url.params["window"]))
        return httpx.Response(
            200,
            json={
                "seconds": float(request.url.params["window"]),
                "calls": calls + 3,
                "errors": round(calls * rate),
                "rejected": 3,
                "p50_ms": 4.0,
                "p95_ms": 12.0,
                "p99_ms": 30.0,
                "error_rate": rate,
                "version": "v0.1.0",
                # Counted over the latency SLO's threshold, which the Triggerer sends.
                "slow": 0 if "slow_ms" in request.url.params else None,
            },
        )

    return httpx.Client(transport=httpx.MockTransport(handler))


@pytest.fixture
def code_root(tmp_path: Path) -> Path:
    root = tmp_path / "workspace"
    (root / "ci").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "ci" / "budgets.json", root / "ci" / "budgets.json")
    (root / "tasks").mkdir()
    (root / "tasks" / "active.json").write_text('{"task": "banking77"}\n')
    return root


def triggerer(
    tmp_path: Path, code_root: Path, client: httpx.Client, sessions: SessionStore | None
) -> tuple[Triggerer, JobStore, list[int]]:
    jobs = JobStore(tmp_path / "architect.sqlite3")
    notified: list[int] = []
    trig = Triggerer(
        jobs=jobs,
        code_root=code_root,
        runner=RunnerMetrics("http://runner.test/metrics", first_window_s=MINUTE, client=client),
        corrections=None if sessions is None else Corrections(sessions),
        cooldown_s=HOUR,
        interval_s=MINUTE,
        notify=lambda: notified.append(1),
        clock=lambda: T0,
    )
    return trig, jobs, notified


def test_a_breach_becomes_exactly_one_wake_job_with_the_evidence(
    tmp_path: Path, code_root: Path
) -> None:
    now = [T0]
    sessions = SessionStore(tmp_path / "sessions.sqlite3")
    client = fake_runner(lambda: 0.2 if now[0] > T0 + HOUR else 0.001)
    trig, jobs, notified = triggerer(tmp_path, code_root, client, sessions)
    for conversation in ("c-wrong-1", "c-wrong-2", "c-right"):  # after start: not history
        turn = answered(sessions, conversation, intent="card_arrival")
        correct = "card_arrival" if conversation == "c-right" else "lost_or_stolen_card"
        sessions.record_feedback(
            conversation,
            turn,
            correct_intent=correct,
            reward=None,
            idempotency_key=None,
            source="t",
        )
    created = []
    while now[0] < T0 + 4 * HOUR:
        now[0] += MINUTE
        created += trig.tick(now[0])
    assert len(created) == 1 and len(notified) == 1
    [job] = jobs.jobs()
    evidence = job.evidence
    assert evidence is not None
    assert (job.kind, job.status) == (JobKind.WAKE, JobStatus.QUEUED)
    assert job.idempotency_key == evidence["incident"]  # one job per incident
    assert job.text.startswith("SLO alarm: SLO error_rate burns its error budget")
    assert evidence["slo"]["name"] == "error_rate" and evidence["slo"]["period_days"] == 28
    breach = evidence["breaching"][0]  # page-slow first here: 20% errors after 1h of history
    assert breach["alert"] in ("page-fast", "page-slow")
    assert breach["long"]["burn_rate"] >= breach["factor"] <= breach["short"]["burn_rate"]
    for window in ("long", "short"):  # the numbers behind each burn rate
        numbers = breach[window]
        total = numbers["good"] + numbers["bad"]
        assert numbers["bad_fraction"] == pytest.approx(numbers["bad"] / total, abs=1e-6)
        assert numbers["burn_rate"] == pytest.approx(numbers["bad_fraction"] / 0.01, rel=1e-3)
    failing = [f["conversation_id"] for f in evidence["failing_conversations"]]
    assert failing == ["c-wrong-2", "c-wrong-1"]
    assert evidence["failing_conversations"][0]["correct"] == "lost_or_stolen_card"
    assert evidence["task"] == "banking77"  # whose labels those are
    # the other SLOs were measured and stayed quiet: latency under 50 ms, 3 corrections
    assert trig.evaluator is not None
    assert trig.evaluator.incident("latency_p95_ms") is None
    assert trig.evaluator.incident("routing_accuracy") is None
    sessions.close()
    jobs.close()


def test_an_unreachable_runner_is_a_no_data_wake_job(tmp_path: Path, code_root: Path) -> None:
    trig, jobs, _ = triggerer(tmp_path, code_root, fake_runner(lambda: None), None)
    created = [(m, job) for m in range(1, 241) for job in trig.tick(T0 + m * MINUTE)]
    # one incident per SLO the Runner's metrics feed, the second after the cooldown (60 min)
    seen = [(m, j.evidence["kind"], j.evidence["slo"]["name"]) for m, j in created if j.evidence]
    assert seen == [(56, "no_data", "error_rate"), (116, "no_data", "latency_p95_ms")]
    jobs.close()


def test_latency_over_the_threshold_is_a_lower_bound_from_percentiles() -> None:
    stats = {"p50_ms": 10.0, "p95_ms": 60.0, "p99_ms": 90.0}
    assert latency_over(stats, 50, 1000) == 50  # p95 over: at least 5%
    assert latency_over(stats, 80, 1000) == 10  # p99 over: at least 1%
    assert latency_over(stats, 5, 1000) == 500
    assert latency_over(stats, 100, 1000) == 0
    assert latency_over({"p50_ms": None}, 50, 0) == 0


def test_the_architect_starts_and_stops_the_triggerer(tmp_path: Path) -> None:
    settings = ArchitectSettings(home=tmp_path / "home", port=0)
    ctx = ArchitectContext.from_settings(settings)
    app = create_app(settings, ctx, run_worker=False, run_triggerer=True)
    with TestClient(app):
        trig = app.state.triggerer
        assert isinstance(trig, Triggerer) and trig._thread.is_alive()
        assert trig.runner.url == "http://127.0.0.1:8001/metrics"
    assert not trig._thread.is_alive()
    assert create_app(settings, ctx, run_worker=False) is not None  # off without the worker
    ctx.close()


def test_the_period_setting_compresses_the_windows(tmp_path: Path, code_root: Path) -> None:
    """RATCHET_ARCHITECT_TRIGGERER_PERIOD_DAYS overrides the budgets' 28 days (demo, e2e)."""
    trig, jobs, _ = triggerer(tmp_path, code_root, fake_runner(lambda: 0.0), None)
    trig.period_days = 1 / 12
    trig.tick(T0)
    assert trig.evaluator is not None and trig.evaluator.config.period_days == 1 / 12
    rules = {r.name: (r.long_s, r.short_s) for r in trig.evaluator.rules}
    assert rules["page-slow"] == pytest.approx((60.0, 5.0))
    assert rules["page-fast"] == pytest.approx((10.0, 10.0 / 12))
    settings = ArchitectSettings(home=tmp_path, RATCHET_ARCHITECT_TRIGGERER_PERIOD_DAYS=0.5)
    assert settings.triggerer_period_days == 0.5
    jobs.close()


def test_a_rollout_the_analysis_aborted_wakes_the_architect_once_with_its_verdict(
    tmp_path: Path, code_root: Path, store: ObjectStore
) -> None:
    manager, rollouts = StateManager(store), RolloutStore(store)
    for version in ("v0.1.0", "v0.2.0", "v0.3.0"):
        deliver(
            manager,
            rollouts,
            mode=RolloutMode.PROGRESSIVE,
            first_weight=0.1,
            version=version,
            document=StateDocument(data={"v": version}),
            commit=None,
            actor="architect",
            reason=f"job for {version}",
        )
        if version != "v0.1.0":  # v0.2.0 by the analysis, v0.3.0 by a person
            actor = "analysis" if version == "v0.2.0" else "human"
            verdict = Decision(
                outcome=Outcome.ABORT, step=0, weight=0, actor=actor, reasons=["worse by 9 pts"]
            )
            conclude(manager, rollouts, verdict, first_weight=0.1)
    sessions = SessionStore(tmp_path / "sessions.sqlite3")
    trig, jobs, notified = triggerer(tmp_path, code_root, fake_runner(lambda: 0.001), sessions)
    trig.rollouts = rollouts
    created = trig.tick(T0 + MINUTE) + trig.tick(T0 + 2 * MINUTE)
    assert len(created) == 1 and len(notified) == 1
    [job] = jobs.jobs()
    assert job.text == "rollout 1 aborted v0.2.0 on live feedback: worse by 9 pts"
    assert job.evidence is not None
    aborted = job.evidence["aborted_rollout"]
    assert (aborted["version"], aborted["stable"], aborted["verdict"]) == (
        "v0.2.0",
        "v0.1.0",
        ["worse by 9 pts"],
    )
    sessions.close()
    jobs.close()
