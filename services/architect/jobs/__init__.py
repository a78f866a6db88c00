"""Jobs: the model (:mod:`.model`) apart from the durable store (:mod:`.store`)."""

from .model import (
    CANDIDATE_STAGES,
    STAGES,
    CandidateRecord,
    CandidateStatus,
    Job,
    JobKind,
    JobStatus,
    Stage,
    StageStatus,
)
from .store import JobStore

__all__ = [
    "CANDIDATE_STAGES",
    "STAGES",
    "CandidateRecord",
    "CandidateStatus",
    "Job",
    "JobKind",
    "JobStatus",
    "JobStore",
    "Stage",
    "StageStatus",
]
