"""Best-of-N with a cascade: rank the screened candidates on dev, send only the best to full.

The full tier (real processes, the whole held-out split through MCP) costs
minutes; micro and fast cost seconds. So every candidate meets micro and
fast, the survivors are judged and ranked on dev accuracy (the ``rank``
stage), and the best goes to full and the held-out comparison. If it fails
there, the next best may go, up to :data:`MAX_FULL_RUNS` full runs per job:
a bound, so a job whose candidates all fail full costs two full runs, not N.
"""

from __future__ import annotations

from .baseline import Baseline
from .book import Book
from .candidates import Candidate, run_gate
from .compare import by_dev, dev_verdict, heldout_verdict
from .jobrun import JobRun
from .jobs import STAGES, CandidateStatus
from .stages import Rejected

MAX_FULL_RUNS = 2


def none_kept(failures: list[Rejected]) -> Rejected:
    """The job's rejection when no candidate is left: one reason, or each one's."""
    if len(failures) == 1:
        return failures[0]
    furthest = max((f.stage or "plan" for f in failures), key=STAGES.index)
    return Rejected("no candidate kept: " + "; ".join(f.reason for f in failures), furthest)


def screen(
    survivors: list[Candidate], base: Baseline, book: Book, lines: list[str], must_improve: bool
) -> list[Candidate]:
    """The survivors that may go on, best dev first; the others settled as rejected."""
    passed = []
    for candidate in survivors:
        why = dev_verdict(candidate, base, must_improve=must_improve)
        dev = candidate.metric("dev_accuracy")
        if why is not None:
            book.settle(candidate.number, CandidateStatus.REJECTED, why)
            lines.append(f"candidate {candidate.number}: rejected: {why}")
        else:
            passed.append(candidate)
            lines.append(f"candidate {candidate.number}: dev {dev:.4f} ({candidate.summary})")
    ranked = by_dev(passed)
    if ranked:
        order = ", ".join(str(c.number) for c in ranked)
        lines.append(f"order for full: {order} (at most {MAX_FULL_RUNS} full runs)")
    return ranked


def cascade(run: JobRun, ranked: list[Candidate], base: Baseline) -> Candidate:
    """The first of ``ranked`` that passes full and the held-out comparison; Rejected if none."""
    book = run.book
    failures: list[Rejected] = []
    chosen: Candidate | None = None
    for position, candidate in enumerate(ranked):
        dev = candidate.metric("dev_accuracy") or 0.0
        if chosen is not None:
            best = chosen.metric("dev_accuracy") or 0.0
            book.settle(
                candidate.number,
                CandidateStatus.LOST,
                f"dev {dev:.4f} < best {best:.4f} (candidate {chosen.number}); "
                "not run in full: cascade",
            )
            continue
        if position >= MAX_FULL_RUNS:
            book.settle(
                candidate.number,
                CandidateStatus.REJECTED,
                f"not run in full: cascade stops after {MAX_FULL_RUNS} full runs",
            )
            continue
        try:
            _full(run, candidate, base)
        except Rejected as exc:
            book.settle(candidate.number, CandidateStatus.REJECTED, f"failed {exc.stage}: {exc}")
            failures.append(exc)
            continue
        chosen = candidate
    if chosen is None:
        raise none_kept(failures) if failures else Rejected("no candidate ran in full", "full")
    return chosen


def _full(run: JobRun, candidate: Candidate, base: Baseline) -> None:
    """The ``full`` tier, then the ``compare`` stage: held-out against the base's."""
    run_gate(run, candidate, "full")
    with run.recorder.stage("compare", candidate.number) as lines:
        why = heldout_verdict(candidate, base)
        if why is not None:
            raise Rejected(why)
        lines.append(
            f"held-out {candidate.metric('heldout_accuracy'):.4f} vs {base.version}'s "
            f"{base.metric('heldout_accuracy')}: no regression"
        )
