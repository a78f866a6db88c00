"""The proposal ledger: recorded per candidate, paged over REST, read by the template coder
so that a template rejected on a base version is not tried again on it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from examples import catalog as examples
from ratchet.db import open_database
from services.architect.app import create_app
from services.architect.coders import CoderError, CodingRequest, TemplateCoder
from services.architect.coders import template as template_coder
from services.architect.coders.template import rank
from services.architect.context import ArchitectContext
from services.architect.jobs import CandidateStatus, JobKind, JobStatus
from services.architect.ledger import LedgerEntry, ProposalLedger
from services.architect.settings import ArchitectSettings
from services.architect.worker import Worker
from tests.services.architect.conftest import architect_settings

LINEAR, BM25 = "runner_strategies/tfidf_linear", "runner_strategies/bm25_fts5"
FEEDBACK = "too many card-delivery questions are misrouted"


def entry(job_id: str, fingerprint: str, result: str, base: str = "v0.1.0") -> LedgerEntry:
    return LedgerEntry(
        job_id=job_id,
        candidate=1,
        feedback=FEEDBACK,
        coder="template",
        tried=fingerprint,
        fingerprint=fingerprint,
        base_version=base,
        result=result,
        reason=f"{result} for a reason",
        scores={"dev_accuracy": 0.8},
    )


def test_a_job_run_again_replaces_its_entry_and_pages_go_newest_first(
    tmp_path: Path, database_url: str | None
) -> None:
    ledger = ProposalLedger(
        open_database(ProposalLedger.schema, tmp_path / ProposalLedger.file, database_url)
    )
    first = ledger.record(entry("a", "template:x", "rejected"))
    ledger.record(entry("b", "template:y", "kept", base="v0.2.0"))
    again = ledger.record(entry("a", "template:x", "lost"))
    assert (again.seq, again.result) == (first.seq, "lost")  # same place, new outcome
    assert [e.job_id for e in ledger.entries()] == ["b", "a"]
    assert [e.job_id for e in ledger.entries(limit=1, before=2)] == ["a"]
    assert [e.job_id for e in ledger.entries(base_version="v0.2.0")] == ["b"]
    assert ledger.entries(result="rejected") == []
    ledger.close()


def test_proposals_are_paged_over_rest(tmp_path: Path) -> None:
    settings = ArchitectSettings(home=tmp_path / "home", port=0)
    ctx = ArchitectContext.from_settings(settings)
    for job_id in ("a", "b", "c"):
        ctx.ledger.record(entry(job_id, f"template:{job_id}", "rejected"))
    try:
        with TestClient(create_app(settings, ctx, run_worker=False)) as client:
            seen, cursor = [], None
            while True:
                params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
                page = client.get("/proposals", params=params).json()
                seen += [p["job_id"] for p in page["proposals"]]
                cursor = page["next"]
                if cursor is None:
                    break
            assert seen == ["c", "b", "a"]
            one = client.get("/proposals", params={"base_version": "v0.1.0", "limit": 1}).json()
            assert one["proposals"][0]["scores"] == {"dev_accuracy": 0.8}
            bad = client.get("/proposals", params={"base_version": "latest"})
            assert bad.status_code == 400 and "base_version" in bad.json()["detail"]
            assert "/proposals" in client.get("/openapi.json").json()["paths"]
    finally:
        ctx.close()


def request(tried: list[LedgerEntry], base: str = "v0.1.0") -> CodingRequest:
    return CodingRequest("job-2", FEEDBACK, base_version=base, tried=tuple(tried))


def test_the_template_coder_skips_what_was_rejected_on_the_same_base_only() -> None:
    coder = TemplateCoder()
    # What the library ranks for this feedback, best first (the order itself is the
    # template coder's tests' business); the coder tries the best two.
    matching = [r.template.id for r in rank(coder.catalog, FEEDBACK)]
    assert len(matching) >= 3
    first, second, third = matching[:3]
    assert [r.template.id for r in coder.ranked(request([]))] == [first, second]
    rejected = entry("job-1", f"template:{first}", "rejected")
    assert [r.template.id for r in coder.ranked(request([rejected]))] == [second, third]
    (note,) = coder.notes(request([rejected]))
    assert note == f"skipped {first}: rejected on v0.1.0 by job job-1 (rejected for a reason)"
    # Lost (not rejected) is no reason to skip; another base version is other code.
    lost = entry("job-1", f"template:{first}", "lost")
    assert [r.template.id for r in coder.ranked(request([lost]))] == [first, second]
    assert [r.template.id for r in coder.ranked(request([rejected], base="v0.2.0"))] == [
        first,
        second,
    ]
    every = [entry("job-1", f"template:{t}", "rejected") for t in matching]
    assert coder.candidates(request(every)) == 1
    with pytest.raises(CoderError, match="every template that matches was rejected already"):
        coder.propose(request(every), Path("/nonexistent"), 0)


BAD_RULE = "runner_strategies/card_rule"


@pytest.fixture
def breaking_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A library of one template that routes every card message to top-ups: micro fails."""
    root = tmp_path / "library"
    (root / BAD_RULE).mkdir(parents=True)
    (root / BAD_RULE / "template.json").write_text(
        json.dumps(
            {
                "id": BAD_RULE,
                "kind": "runner_strategy",
                "title": "route card messages by a rule",
                "problem": "card messages are misrouted",
                "addresses": ["accuracy"],
                "keywords": ["card"],
                "cost": {"latency_ms": 0, "memory_mb": 0, "train_seconds": 0},
                "measured": {"dev_accuracy": 0.5},
                "test": {"min_dev_accuracy": 0.5},
                "state_patch": {
                    "rules": [{"id": "r", "all_of": ["card"], "intent": "top_up_failed"}]
                },
            }
        )
    )
    playbook = {
        "entries": [
            {"kind": "accuracy", "signals": ["misrouted"], "templates": [BAD_RULE], "why": "."}
        ]
    }
    (root / "playbook.json").write_text(json.dumps(playbook))
    monkeypatch.setattr(template_coder, "library", lambda: examples.load(root))
    yield


@pytest.mark.usefixtures("breaking_library")
def test_a_second_identical_job_does_not_rerun_the_rejected_template(tmp_path: Path) -> None:
    ctx = ArchitectContext.from_settings(architect_settings(tmp_path / "home"))
    try:
        first_id = ctx.jobs.create(JobKind.FEEDBACK, FEEDBACK)[0].id
        (first,) = Worker(ctx).run_pending()
        second_id = ctx.jobs.create(JobKind.FEEDBACK, FEEDBACK)[0].id
        (second,) = Worker(ctx).run_pending()
        ledger = ctx.ledger.entries()
    finally:
        ctx.close()
    assert (first.id, first.status, first.failed_stage) == (first_id, JobStatus.REJECTED, "micro")
    (tried,) = first.candidates
    assert tried.fingerprint == f"template:{BAD_RULE}" and "micro" in tried.reason
    # The second job knows from the ledger: the template is not applied, nor run.
    assert (second.id, second.status, second.failed_stage) == (
        second_id,
        JobStatus.REJECTED,
        "coder",
    )
    assert "rejected already on v0.1.0" in second.reason
    plan = next(s for s in second.stages if s.name == "plan")
    assert f"skipped {BAD_RULE}: rejected on v0.1.0 by job {first_id}" in plan.log
    (skipped,) = second.candidates
    assert skipped.status is CandidateStatus.REJECTED
    assert [s.name for s in skipped.stages] == ["worktree", "coder"]
    assert [(e.job_id, e.result, e.fingerprint) for e in ledger] == [
        (second_id, "rejected", ""),
        (first_id, "rejected", f"template:{BAD_RULE}"),
    ]
