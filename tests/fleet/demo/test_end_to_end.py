"""One full loop on real processes: the demo's driver on a small plan.

``ratchet up`` runs the four services; MCP clients (the official SDK) route
BANKING77 messages and send delayed corrections to the Tuner; ``promote``
releases a patch; the degraded traffic burns the routing-accuracy SLO; the
Triggerer wakes the Architect, whose template coder and CI release a minor
version; the Runner serves it; the Versions API lists both with their evals.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.demo import DemoPlan, Scenario, Silent
from ratchet.bootstrap import release_store
from ratchet.config import CommonSettings
from ratchet.rollouts.model import RolloutStatus
from ratchet.rollouts.store import RolloutStore
from ratchet.state import open_state_manager
from tests.conftest import PROJECT_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

PLAN = DemoPlan(
    learn_rounds=1,
    turns_per_round=300,
    after_turns=200,
    heldout_sample=300,  # the full tier on a spread tenth of the held-out split
    measure_missing=False,  # only what the fleet itself measured
    job_timeout_s=900,
    # One Architect job here: the demo's second (mpnet_embed, feedback-driven) embeds the
    # training set with a 110M-parameter encoder for minutes on a fresh machine.
    follow_up=False,
    # Nor the weak candidate's job (its tiers take minutes): its abort is shown by
    # `ratchet demo` and tested on real processes in the rollout tests.
    weak_candidate=False,
)


@pytest.mark.timeout(1800)
@pytest.mark.alone  # the wake job's full tier judges p95 latency
def test_feedback_patch_degradation_wake_minor_release_served_and_listed(tmp_path: Path) -> None:
    settings = CommonSettings(home=tmp_path / "home", project_root=PROJECT_ROOT)
    progress = Silent()
    # Progressive delivery, the default a new home has (the suite's conftest sets immediate
    # for the tests of other features): every release here is rolled out by live feedback.
    env = {"RATCHET_PROJECT_ROOT": str(PROJECT_ROOT), "RATCHET_ROLLOUT": "progressive"}
    result = Scenario(settings, PLAN, progress).run(env)

    # the wake-up: a job of the Triggerer, with the breaching windows and failing conversations
    job = result.wake_job
    assert job is not None and job["kind"] == "wake", progress.notes
    stages = [(s["name"], s["status"], s["log"][-300:]) for s in job["stages"]]
    assert job["status"] == "succeeded", (job["reason"], stages)
    by_version = {row.version: row for row in result.releases}
    patches = [r for r in result.releases if r.kind == "patch" and r.author == "tuner"]
    minors = [r for r in result.releases if r.author == "architect"]
    assert patches and minors, (result.releases, progress.notes)
    patch, minor = patches[0], minors[0]
    assert (patch.version, minor.kind) == ("v0.1.1", "minor")
    assert job["version"] == minor.version
    evidence = job["evidence"]
    assert evidence["slo"]["name"] == "routing_accuracy"
    assert evidence["breaching"] and evidence["failing_conversations"]
    assert all(f["answered"] != f["correct"] for f in evidence["failing_conversations"])

    # the Runner served the minor release to the traffic after it, or the Tuner's patch of
    # its params when tuning them on dev beat the noise margin (`tune_release`)
    series = minor.version.rsplit(".", 1)[0] + "."
    tuned = [r.version for r in patches if r.version.startswith(series)]
    after = [t for t in result.turns if t.phase == "after"]
    assert after and {t.version for t in after} == {tuned[-1] if tuned else minor.version}
    # the Versions API lists both with their evals (the patch measured as the job's baseline)
    for row in (patch, minor):
        assert row.dev_accuracy is not None and row.heldout_accuracy is not None, row
    assert minor.heldout_accuracy > by_version[patch.version].heldout_accuracy  # type: ignore[operator]
    # the Tuner's summary event of its promotion is in the object store
    assert result.events >= 1

    # each release reached traffic through a rollout the live feedback decided
    rollouts = RolloutStore(open_state_manager(settings).store).all()
    by_canary = {r.version: r for r in rollouts}
    assert by_canary[minor.version].status == RolloutStatus.PROMOTED, progress.notes
    assert by_canary[patch.version].status in (RolloutStatus.PROMOTED, RolloutStatus.ABORTED)
    verdict = by_canary[minor.version].verdict
    assert (
        verdict is not None and verdict.actor == "analysis" and verdict.analysis["canary_feedback"]
    )

    # the best release is left active; no half-made release
    pointer = open_state_manager(settings).pointer()
    assert pointer is not None and pointer.version == result.best == result.active
    releases = {r.version: r.commit for r in release_store(settings).releases()}
    assert pointer.commit == releases[pointer.version]
    assert result.png is not None and result.png.read_bytes().startswith(b"\x89PNG")
    assert result.html is not None and minor.version in result.html.read_text()
