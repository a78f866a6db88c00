"""The cascade's judgement: dev first (must-improve vs no-regression), the order for full,
the bound on full runs, and the reasons a candidate loses."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest

from ratchet.ci.report import TierReport
from ratchet.state import ActiveState
from ratchet.state.pointer import Pointer
from services.architect import cascade as cascade_module
from services.architect.baseline import Baseline
from services.architect.book import Book
from services.architect.candidates import Candidate, read_state
from services.architect.cascade import MAX_FULL_RUNS, cascade, none_kept, screen
from services.architect.coders import CodingRequest, TemplateCoder
from services.architect.compare import by_dev, dev_verdict, heldout_verdict
from services.architect.context import ArchitectContext
from services.architect.jobrun import JobRun
from services.architect.jobs import CandidateStatus, JobKind, JobStore
from services.architect.ledger import ProposalLedger
from services.architect.stages import Recorder, Rejected
from tests.conftest import PROJECT_ROOT

BASE = Baseline("v0.1.0", "c0", {"dev_accuracy": 0.8612, "heldout_accuracy": 0.87}, False)


def candidate(index: int, dev: float, heldout: float | None = None) -> Candidate:
    reports = {"fast": TierReport("fast", True, 1.0, {"dev_accuracy": dev})}
    if heldout is not None:
        reports["full"] = TierReport("full", True, 1.0, {"heldout_accuracy": heldout})
    state = read_state(PROJECT_ROOT)
    return Candidate(index, f"template t{index}", f"c{index}", state, 0.005, PROJECT_ROOT, reports)


def test_an_autonomous_candidate_must_beat_dev_by_more_than_the_margin() -> None:
    assert dev_verdict(candidate(0, 0.8662), BASE, must_improve=True) == (
        "dev 0.8662 does not beat v0.1.0's 0.8612 by more than the noise margin 0.005"
    )
    assert dev_verdict(candidate(0, 0.8663), BASE, must_improve=True) is None
    # A human's change only may not regress beyond the margin.
    assert dev_verdict(candidate(0, 0.8563), BASE, must_improve=False) is None
    assert "regresses from v0.1.0's 0.8612" in str(
        dev_verdict(candidate(0, 0.8561), BASE, must_improve=False)
    )
    assert heldout_verdict(candidate(0, 0.9, heldout=0.866), BASE) is None
    assert "held-out 0.8640 regresses" in str(heldout_verdict(candidate(0, 0.9, 0.864), BASE))


def test_candidates_are_ranked_by_dev_ties_in_the_coders_order() -> None:
    ranked = by_dev([candidate(0, 0.88), candidate(1, 0.91), candidate(2, 0.91)])
    assert [c.index for c in ranked] == [1, 2, 0]


def test_one_rejection_stays_as_it_is_several_are_joined_at_the_furthest_stage() -> None:
    alone = Rejected("micro failed: x", "micro")
    assert none_kept([alone]) is alone
    joined = none_kept([alone, Rejected("full failed: y", "full")])
    assert (joined.stage, joined.reason) == (
        "full",
        "no candidate kept: micro failed: x; full failed: y",
    )


@pytest.fixture
def book(tmp_path: Path) -> Book:
    jobs = JobStore(tmp_path / "a.sqlite3")
    job, _ = jobs.create(JobKind.FEEDBACK, "misrouted")
    return Book(
        jobs,
        ProposalLedger(tmp_path / "a.sqlite3"),
        job_id=job.id,
        feedback="misrouted",
        coder="template",
        base_version="v0.1.0",
    )


def job_run(book: Book) -> JobRun:
    """A run of the book's job on ``BASE``, for a stand-in full tier (the context and the
    build are not used)."""
    state = read_state(PROJECT_ROOT)
    pointer = Pointer(
        version=BASE.version,
        commit=BASE.commit,
        snapshot="",
        state_hash=state.content_hash(),
        state_revision=state.revision,
        actor="human",
    )
    return JobRun(
        ctx=ArchitectContext.__new__(ArchitectContext),
        job=book.jobs.get(book.job_id),
        recorder=Recorder(book.jobs, book.job_id),
        book=book,
        active=ActiveState(pointer, state),
        base_commit=BASE.commit,
        build=PROJECT_ROOT,
        coder=TemplateCoder(),
        request=CodingRequest(book.job_id, book.feedback, base_version=BASE.version),
        candidates=len(book.records),
        worktrees=ExitStack(),
    )


def test_full_runs_only_the_best_and_at_most_twice(
    book: Book, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The full tier is a stand-in here (the real one takes minutes per candidate; the
    template end-to-end test runs it): the first two candidates fail it."""
    candidates = [candidate(i, dev) for i, dev in enumerate((0.90, 0.8612, 0.95, 0.93, 0.92))]
    for c in candidates:
        book.open(c.number)
    lines: list[str] = []
    ranked = screen(candidates, BASE, book, lines, must_improve=True)
    assert [c.number for c in ranked] == [3, 4, 5, 1]
    assert book.records[2].status is CandidateStatus.REJECTED
    assert "does not beat v0.1.0's 0.8612" in book.records[2].reason
    assert lines[-1] == "order for full: 3, 4, 5, 1 (at most 2 full runs)"

    ran: list[int] = []

    def full_fails(run: JobRun, c: Candidate, tier: str) -> None:
        ran.append(c.number)
        raise Rejected(f"full failed: p95 of candidate {c.number}", "full")

    monkeypatch.setattr(cascade_module, "run_gate", full_fails)
    with pytest.raises(Rejected) as raised:
        cascade(job_run(book), ranked, BASE)
    assert ran == [3, 4] and len(ran) == MAX_FULL_RUNS
    assert raised.value.stage == "full"
    assert book.records[3].reason == "failed full: full failed: p95 of candidate 3"
    for number in (5, 1):
        assert (book.records[number].status, book.records[number].reason) == (
            CandidateStatus.REJECTED,
            "not run in full: cascade stops after 2 full runs",
        )
    results = {(e.candidate, e.result) for e in book.ledger.entries()}
    assert results == {(n, "rejected") for n in (1, 2, 3, 4, 5)}


def test_the_best_that_passes_full_is_chosen_and_the_rest_lose_without_full(
    book: Book, monkeypatch: pytest.MonkeyPatch
) -> None:
    candidates = [candidate(0, 0.90, heldout=0.91), candidate(1, 0.92, heldout=0.93)]
    for c in candidates:
        book.open(c.number)
    ranked = screen(candidates, BASE, book, [], must_improve=True)
    ran: list[int] = []
    monkeypatch.setattr(cascade_module, "run_gate", lambda *a: ran.append(a[1].number))
    chosen = cascade(job_run(book), ranked, BASE)
    assert (chosen.number, ran) == (2, [2])
    assert book.records[1].status is CandidateStatus.LOST
    assert (
        book.records[1].reason == "dev 0.9000 < best 0.9200 (candidate 2); not run in full: cascade"
    )
    compare = next(
        s for c in book.jobs.get(book.job_id).candidates if c.index == 2 for s in c.stages
    )
    assert compare.name == "compare" and "no regression" in compare.log
