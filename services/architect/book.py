"""A job's book of candidates: each one's record in the job, and its fate in the ledger.

Every change to a candidate's record (what the coder did, its commit, what a
tier measured) is saved on the job as it happens, so ``GET /jobs/{id}``
shows a running job's candidates; when a candidate's fate is settled (kept,
lost, rejected) it also goes to the proposal ledger for later jobs.
"""

from __future__ import annotations

from typing import Any

from ratchet.ci.report import TierReport

from .jobs import CandidateRecord, CandidateStatus, JobStore
from .ledger import LedgerEntry, ProposalLedger

SCORES = ("dev_accuracy", "heldout_accuracy", "p95_latency_ms", "error_rate")


class Book:
    def __init__(
        self,
        jobs: JobStore,
        ledger: ProposalLedger,
        *,
        job_id: str,
        feedback: str,
        coder: str,
        base_version: str,
    ) -> None:
        self.jobs = jobs
        self.ledger = ledger
        self.job_id = job_id
        self.feedback = feedback
        self.coder = coder
        self.base_version = base_version
        self.records: dict[int, CandidateRecord] = {}

    def open(self, number: int) -> CandidateRecord:
        record = CandidateRecord(index=number, coder=self.coder)
        self.records[number] = record
        self.jobs.save_candidate(self.job_id, record)
        return record

    def update(self, number: int, **changes: Any) -> None:
        record = self.records[number].model_copy(update=changes)
        self.records[number] = record
        self.jobs.save_candidate(self.job_id, record)

    def tier(self, number: int, report: TierReport) -> None:
        record = self.records[number]
        metrics = {**record.metrics, report.tier: dict(report.metrics)}
        seconds = {**record.seconds, report.tier: round(report.seconds, 3)}
        self.update(number, metrics=metrics, seconds=seconds)

    def settle(self, number: int, status: CandidateStatus, reason: str) -> None:
        """The candidate's fate, on the job and in the ledger."""
        self.update(number, status=status, reason=reason)
        record = self.records[number]
        scores = {
            name: value
            for tier in record.metrics.values()
            for name, value in tier.items()
            if name in SCORES
        }
        self.ledger.record(
            LedgerEntry(
                job_id=self.job_id,
                candidate=number,
                feedback=self.feedback,
                coder=self.coder,
                tried=record.summary or "(no change: the coder gave none)",
                fingerprint=record.fingerprint,
                base_version=self.base_version,
                result=status.value,
                reason=reason,
                scores=scores,
            )
        )

    def unsettled(self) -> list[int]:
        return [n for n, r in self.records.items() if r.status is CandidateStatus.RUNNING]

    def metric(self, number: int, tier: str, name: str) -> float | None:
        return self.records[number].metrics.get(tier, {}).get(name)
