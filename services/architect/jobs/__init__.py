"""Jobs: the model (:mod:`.model`) apart from the durable store (:mod:`.store`)."""

from .model import STAGES, Job, JobKind, JobStatus, Stage, StageStatus
from .store import JobStore

__all__ = ["STAGES", "Job", "JobKind", "JobStatus", "JobStore", "Stage", "StageStatus"]
