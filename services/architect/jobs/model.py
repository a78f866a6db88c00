"""A job and its stages: what the Architect did with one intake, step by step."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

STAGES = ("plan", "worktree", "coder", "policy", "micro", "fast", "full", "compare", "release")
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
