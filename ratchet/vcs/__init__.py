"""Version store: the workspace repository, releases as annotated tags, job worktrees."""

from ratchet.vcs.lineage import MAX_EVENTS, FeedbackEvent, LearnedFrom, learned_from
from ratchet.vcs.releases import InvalidTag, Release, ReleaseMetadata, ReleaseStore, TagScan
from ratchet.vcs.repo import is_repository, open_repo
from ratchet.vcs.semver import FIRST, ReleaseKind, Version, next_version
from ratchet.vcs.workspace import default_project_root, ensure_workspace
from ratchet.vcs.worktrees import job_worktree

__all__ = [
    "FIRST",
    "MAX_EVENTS",
    "FeedbackEvent",
    "InvalidTag",
    "LearnedFrom",
    "Release",
    "ReleaseKind",
    "ReleaseMetadata",
    "ReleaseStore",
    "TagScan",
    "Version",
    "default_project_root",
    "ensure_workspace",
    "is_repository",
    "job_worktree",
    "learned_from",
    "next_version",
    "open_repo",
]
