"""Request and response models of the Architect's REST API (the OpenAPI contract)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .jobs import Job
from .ledger import LedgerEntry

IDEMPOTENCY_KEY = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"


class Problem(BaseModel):
    """Every 4xx/5xx answer: what went wrong."""

    detail: str


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    service: Literal["architect"] = "architect"
    queued: int
    running: int


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=20_000, description="What should change, and why.")
    patch: str | None = Field(
        default=None, description="A unified diff against the active version (`git diff`)."
    )
    idempotency_key: str | None = Field(
        default=None, pattern=IDEMPOTENCY_KEY, description="Retries with the same key: one job."
    )


class WakeRequest(BaseModel):
    """The Triggerer's alarm: what burned, and the evidence it saw."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2_000, description="The incident in one line.")
    evidence: dict[str, Any] = Field(default_factory=dict, description="Metrics, windows, SLOs.")
    idempotency_key: str | None = Field(default=None, pattern=IDEMPOTENCY_KEY)


class JobAccepted(BaseModel):
    job_id: str
    status: str
    duplicate: bool = Field(description="The idempotency key was seen: this is the first job.")


class JobList(BaseModel):
    jobs: list[Job]


class ProposalPage(BaseModel):
    proposals: list[LedgerEntry]
    next: int | None = Field(description="Pass as `cursor` for older entries; null at the end.")


class RolloutEndRequest(BaseModel):
    """A person's decision on the live rollout: why (kept in its record)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=2_000, description="Why, for the rollout's record.")
