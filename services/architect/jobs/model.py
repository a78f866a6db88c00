"""A job and its stages: what the Architect did with one intake, step by step."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

# A job's stages in order. The candidate stages run once per candidate (recorded
# on the candidate; the job's row for each is their aggregate); ``calibrate`` sets
# the arms' priors from their dev evidence (ratchet/ci/exploration.py); ``rank`` orders
# the candidates that passed ``fast`` by dev accuracy, and only the best goes to
# ``full`` (the cascade), then ``compare`` judges its held-out scores.
SCREENING_STAGES = ("worktree", "coder", "policy", "micro", "calibrate", "fast")
CANDIDATE_STAGES = (*SCREENING_STAGES, "full", "compare")
STAGES = ("plan", *SCREENING_STAGES, "rank", "full", "compare", "release")
LOG_CHARS = 4000  # a stage keeps the tail of its log, not all of it


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    REJECTED = "rejected"  # a gate said no: policy, a tier, the comparison
    FAILED = "failed"  # the Architect could not finish (crashes, repeated interruptions)

    @property
    def final(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.REJECTED, JobStatus.FAILED)


class StageStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


class JobKind(StrEnum):
    FEEDBACK = "feedback"
    WAKE = "wake"


class Stage(BaseModel):
    name: str
    status: StageStatus = StageStatus.PENDING
    started_at: str | None = None
    finished_at: str | None = None
    seconds: float | None = Field(default=None, description="Wall-clock time of the stage.")
    log: str = Field(default="", description="The tail of the stage's log.")


class CandidateStatus(StrEnum):
    RUNNING = "running"
    KEPT = "kept"  # released
    LOST = "lost"  # passed its gates so far, but another candidate was better
    REJECTED = "rejected"  # a gate or the comparison said no
    FAILED = "failed"  # the job ended on an internal error while this one ran


class CandidateRecord(BaseModel):
    """One candidate of a job: what the coder tried, what each tier measured, its fate."""

    index: int = Field(description="1-based, as the logs count candidates.")
    coder: str
    summary: str = Field(default="", description="What the coder did (e.g. the template).")
    fingerprint: str = Field(default="", description="What was tried: template id, diff hash.")
    commit: str | None = None
    status: CandidateStatus = CandidateStatus.RUNNING
    reason: str = Field(default="", description="Why it was kept, lost or rejected.")
    metrics: dict[str, dict[str, float | None]] = Field(
        default_factory=dict, description="Per tier, what it measured."
    )
    seconds: dict[str, float] = Field(default_factory=dict, description="Per tier, wall clock.")
    stages: list[Stage] = Field(default_factory=list)


class Job(BaseModel):
    id: str
    kind: JobKind
    status: JobStatus
    text: str
    has_patch: bool
    idempotency_key: str | None = None
    evidence: dict[str, Any] | None = None
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    attempts: int = Field(default=0, description="Runs started (a restart runs a job again).")
    version: str | None = Field(default=None, description="The version released, if any.")
    reason: str = Field(default="", description="Why the job ended as it did.")
    failed_stage: str | None = Field(default=None, description="The stage that said no.")
    stages: list[Stage] = Field(default_factory=list)
    coder: str | None = Field(default=None, description="The coder that proposed candidates.")
    warnings: list[str] = Field(
        default_factory=list,
        description="What the job ran with that it should not have (e.g. no sandbox).",
    )
    candidates: list[CandidateRecord] = Field(default_factory=list)
