"""The ``llm`` coder against a local OpenAI-compatible server replaying recorded answers
(a real process over a socket), through the real pipeline on a real git workspace.

The recorded edits name text of the workspace's state file; it is read from the
workspace at test time (:func:`blend_edit`), so the fixtures follow HEAD.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from examples.catalog import library
from ratchet.config import load
from ratchet.errors import ConfigError
from ratchet.vcs import ReleaseKind, job_worktree
from services.architect.coders import CoderError, CodingRequest, LlmCoder, coder_for
from services.architect.coders.llm.client import ChatClient, Message, Usage
from services.architect.coders.template import rank
from services.architect.context import ArchitectContext
from services.architect.jobs import Job, JobKind, JobStatus
from services.architect.settings import ArchitectSettings
from services.architect.worker import Worker
from tests.conftest import git
from tests.helpers.openai_replay import ReplayServer, replaying, write_script
from tests.helpers.processes import running
from tests.services.architect.conftest import architect_settings, settings_env
from tests.services.architect.test_architect_process import wait_final

FEEDBACK = "too many card-delivery questions are misrouted"
STATE = "state/active.state.json"
KEY = "sk-replay-test"
# $0.001 per 1k prompt tokens: the recorded 20,000-token answer costs $0.02.
PRICES = {"llm_price_input_per_1k": 0.001, "llm_price_output_per_1k": 0.002}


def blend_edit(state_text: str) -> dict[str, str]:
    """The blend arm's lines in ``state_text`` and the same with a higher alpha
    (the arm becomes the greedy one): the placeholders of the fixtures."""
    found = re.search(r'^( *)"blend": \{\n(?:.*\n)*?\1\},?\n', state_text, re.M)
    assert found, "the state declares no blend arm: the fixtures need one"
    arm = found.group(0)
    alpha = float(re.search(r'"alpha": ([0-9.]+)', arm).group(1))  # type: ignore[union-attr]
    favoured = re.sub(r'"alpha": [0-9.]+', f'"alpha": {alpha + 2}', arm)
    return {"blend_arm": arm, "blend_arm_favoured": favoured}


def last_user_message(request: dict[str, Any]) -> str:
    content: str = request["body"]["messages"][-1]["content"]
    return content


def stage_log(job: Job, name: str) -> str:
    return "\n".join(s.log for s in job.stages if s.name == name)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ArchitectContext]:
    home = tmp_path_factory.mktemp("llm") / "home"
    context = ArchitectContext.from_settings(architect_settings(home))
    yield context
    context.close()


@pytest.fixture
def script(tmp_path: Path, ctx: ArchitectContext) -> Any:
    """``script(fixture)``: the fixture filled from the workspace's HEAD state."""

    def make(fixture: str) -> Path:
        text = (ctx.settings.workspace_path / STATE).read_text()
        return write_script(fixture, tmp_path / fixture, **blend_edit(text))

    return make


def with_llm(ctx: ArchitectContext, server: ReplayServer, **overrides: Any) -> ArchitectContext:
    settings = ctx.settings.model_copy(
        update={
            "coder": "llm",
            "llm_base_url": server.base_url,
            "llm_model": "replay-1",
            "llm_api_key": SecretStr(KEY),  # model_copy does not validate
            **PRICES,
            **overrides,
        }
    )
    return dataclasses.replace(ctx, settings=settings)


def run(ctx: ArchitectContext, text: str = FEEDBACK) -> Job:
    ctx.jobs.create(JobKind.FEEDBACK, text)
    (job,) = Worker(ctx).run_pending()
    return job


def tags(ctx: ArchitectContext) -> list[str]:
    return git(ctx.settings.workspace_path, "tag", "-l").split()


@pytest.mark.slow
def test_a_good_edit_is_released_as_a_minor_version(ctx: ArchitectContext, script: Any) -> None:
    with replaying(script("good_edit.json")) as server:
        llm = with_llm(ctx, server)
        assert isinstance(coder_for(CodingRequest("j", FEEDBACK), llm.settings), LlmCoder)
        job = run(llm)
        (asked,) = server.requests()
    assert job.status is JobStatus.SUCCEEDED, (job.reason, job.stages)
    release = ctx.releases.get(str(job.version))
    assert (release.version, release.kind) == ("v0.2.0", ReleaseKind.MINOR)
    # What was sent: the key, the model, the feedback, the files and related templates.
    assert asked["authorization"] == f"Bearer {KEY}"
    assert asked["body"]["model"] == "replay-1"
    question = last_user_message(asked)
    assert FEEDBACK in question and f"{STATE}\n```\n" in question
    assert "services/runner/agent/router.py\n```\n" in question
    best = rank(library(), FEEDBACK)[0].template.id  # the related template it shows first
    assert f"Example template {best}" in question
    assert "<<<<<<< SEARCH" in asked["body"]["messages"][0]["content"]
    # The released tree carries the edit; the scores beat v0.1.0's on dev and held-out.
    released = json.loads(git(ctx.settings.workspace_path, "show", f"{release.commit}:{STATE}"))
    # The edit raised blend's prior to 3:1; calibration then wrote both arms' dev evidence
    # (blend 848/1016 right, centroid 790/1016: retired, 5.7 points under blend).
    arms = released["data"]["strategy"]["arms"]
    assert (arms["blend"]["alpha"], arms["blend"]["beta"]) == (849.0, 169.0)
    assert arms["centroid"]["retired"] and not arms["blend"]["retired"]
    summary = json.loads(ctx.objects.get(f"evals/{release.commit}/summary.json").data)
    parent = ctx.releases.get("v0.1.0")
    base = json.loads(ctx.objects.get(f"evals/{parent.commit}/summary.json").data)
    assert summary["heldout_accuracy"] > base["heldout_accuracy"] + 0.02, (summary, base)
    assert summary["dev_accuracy"] > base["dev_accuracy"] + 0.02, (summary, base)
    coder_log = stage_log(job, "coder")
    assert "asked replay-1 at" in coder_log and "question 1: 14210 tokens in, 96 out" in coder_log
    assert "$0.0144" in coder_log  # 14.21 * 0.001 + 0.096 * 0.002
    assert "changed state/active.state.json" in coder_log and KEY not in coder_log
    timings = ", ".join(f"{s.name} {s.seconds or 0:.1f}s" for s in job.stages)
    print(
        f"\n{release.version}: held-out {base['heldout_accuracy']} -> "
        f"{summary['heldout_accuracy']}, dev {base['dev_accuracy']} -> {summary['dev_accuracy']}"
        f"; stages {timings}\n{coder_log}"
    )


def test_a_malformed_edit_is_retried_with_the_error_then_applied(
    ctx: ArchitectContext, script: Any
) -> None:
    """The coder stage on a real worktree of the workspace (the tiers are the good edit's)."""
    active = ctx.manager.read_active()
    assert active is not None and active.pointer.commit is not None
    with (
        replaying(script("malformed_then_fixed.json")) as server,
        job_worktree(ctx.settings.workspace_path, active.pointer.commit) as tree,
    ):
        coder = LlmCoder.from_settings(with_llm(ctx, server).settings)
        before = (tree / STATE).read_text()
        proposal = coder.propose(CodingRequest("job-retry", FEEDBACK), tree, 0)
        first, second = server.requests()
        after = (tree / STATE).read_text()
    edit = blend_edit(before)
    assert after == before.replace(edit["blend_arm"], edit["blend_arm_favoured"]) != before
    error = "'>>>>>>> REPLACE' before '=======' in the block for state/active.state.json"
    assert error not in last_user_message(first)
    assert error in last_user_message(second) and "none of them" in last_user_message(second)
    # The retry carries the whole conversation: question, bad answer, the error.
    roles = [m["role"] for m in second["body"]["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert proposal.summary == "llm replay-1: Sorry, the divider was missing. Favour the blend arm."
    log = "\n".join(proposal.log)
    assert "question 1: 14210 tokens in, 80 out, $0.0144; edits refused, nothing applied" in log
    assert "question 2: 14420 tokens in, 84 out, $0.0146; 1 edit block(s) applied" in log
    assert "total 2 question(s), 28630 tokens in, 164 out, $0.0290" in log


def test_a_non_applying_edit_is_rejected_after_the_retry_limit(
    ctx: ArchitectContext, script: Any
) -> None:
    before = tags(ctx)
    with replaying(script("non_applying.json")) as server:
        job = run(with_llm(ctx, server))
        asked = server.requests()
    assert job.status is JobStatus.REJECTED and job.failed_stage == "coder", job.reason
    assert "no usable edit after 3 question(s)" in job.reason
    assert "the SEARCH text occurs 0 times" in job.reason
    assert len(asked) == 3
    assert all("occurs 0 times" in last_user_message(r) for r in asked[1:])
    assert tags(ctx) == before


def test_the_job_cost_cap_stops_the_job(ctx: ArchitectContext, script: Any) -> None:
    before = tags(ctx)
    with replaying(script("expensive_malformed.json")) as server:
        job = run(with_llm(ctx, server, llm_job_cap_usd=0.01))
        asked = server.requests()
    assert len(asked) == 1  # the good second answer is never asked for
    assert job.status is JobStatus.REJECTED and job.failed_stage == "coder", job.reason
    assert job.reason.startswith(
        "llm coder: per-job cost cap reached: this job spent $0.0200 of its $0.0100 cap"
    ), job.reason
    assert tags(ctx) == before


def test_an_http_error_rejects_the_candidate_with_the_endpoint_reason(
    ctx: ArchitectContext, script: Any, tmp_path: Path
) -> None:
    with replaying(script("rate_limited.json")) as server:
        coder = LlmCoder.from_settings(with_llm(ctx, server).settings)
        with pytest.raises(CoderError, match="answered HTTP 429: Rate limit reached") as caught:
            coder.propose(CodingRequest("job-429", FEEDBACK), tmp_path, 0)
    assert caught.value.log and caught.value.log[0].startswith("asked replay-1")


def test_an_answer_without_usage_is_counted_by_an_estimate(tmp_path: Path) -> None:
    script = write_script("no_usage.json", tmp_path / "script.json")
    messages: list[Message] = [{"role": "user", "content": "x" * 4000}]
    with (
        replaying(script) as server,
        ChatClient(server.base_url, "replay-1", None, timeout=10, max_tokens=64) as client,
    ):
        reply = client.complete(messages)
        (asked,) = server.requests()
    assert reply.content == "No change is needed."
    assert reply.usage == Usage(1001, 6, estimated=True)  # 4 characters a token
    assert asked["authorization"] is None and asked["body"]["max_tokens"] == 64


@pytest.mark.slow
def test_the_daily_cap_survives_a_restart(tmp_path: Path, script: Any) -> None:
    """Two real Architect processes in turn: the second refuses to ask at all."""
    settings = architect_settings(tmp_path / "home")
    with replaying(script("expensive_malformed.json")) as server:
        env = {
            **settings_env(settings),
            "RATCHET_ARCHITECT_TRIGGERER": "false",
            "RATCHET_ARCHITECT_CODER": "llm",
            "RATCHET_ARCHITECT_LLM_BASE_URL": server.base_url,
            "RATCHET_ARCHITECT_LLM_MODEL": "replay-1",
            "RATCHET_ARCHITECT_LLM_PRICE_INPUT_PER_1K": "0.001",
            "RATCHET_ARCHITECT_LLM_DAILY_CAP_USD": "0.015",
        }
        reasons = []
        for _ in range(2):
            with running("services.architect", env) as architect:
                answer = httpx.post(f"{architect.url}/feedback", json={"text": FEEDBACK})
                assert answer.status_code == 202, answer.text
                job = wait_final(architect.url, answer.json()["job_id"])
                assert (job["status"], job["failed_stage"]) == ("rejected", "coder"), job
                reasons.append(job["reason"])
        asked = server.requests()
    assert len(asked) == 1, reasons  # the restarted Architect asked nothing
    for reason in reasons:
        assert "daily cost cap reached: $0.0200 spent today" in reason, reason
        assert "of the $0.0150 cap" in reason, reason


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"coder": "llm"}, "needs RATCHET_ARCHITECT_LLM_BASE_URL and RATCHET_ARCHITECT_LLM_MODEL"),
        ({"llm_base_url": "ftp://x/v1"}, "is not an http"),
        ({"llm_base_url": "http://llm.example/v1", "llm_api_key": "k"}, "travel in clear"),
        ({"llm_max_attempts": 0}, "llm_max_attempts|RATCHET_ARCHITECT_LLM_MAX_ATTEMPTS"),
        ({"llm_job_cap_usd": -1}, "RATCHET_ARCHITECT_LLM_JOB_CAP_USD|llm_job_cap_usd"),
    ],
)
def test_unusable_llm_settings_fail_fast(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(ArchitectSettings, **settings)


def test_usable_llm_settings() -> None:
    secret = "sk-not-to-be-shown"
    local = load(
        ArchitectSettings,
        coder="llm",
        llm_base_url="http://127.0.0.1:9/v1",
        llm_model="m",
        llm_api_key=secret,
    )
    assert local.llm_api_key is not None and secret not in repr(local)
    remote = load(ArchitectSettings, llm_base_url="https://api.example/v1", llm_api_key=secret)
    assert remote.llm_api_key is not None and remote.llm_api_key.get_secret_value() == secret
