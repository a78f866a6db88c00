"""The coder interface: a job's request in, candidate changes written into worktrees.

A coder may propose several candidates for one job; each gets a fresh
worktree at the active version and goes through the gates on its own, and
the job keeps the best one that passes. A coder never commits, tags or runs
CI: it only edits the files of the worktree it is given.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from ratchet.errors import RatchetError

if TYPE_CHECKING:
    from ratchet.config import ArchitectSettings


class CoderError(RatchetError):
    """The coder could not produce this candidate (the reason is shown on the job).

    ``log`` holds what the coder did before it gave up (questions asked, tokens,
    cost), for the stage's log.
    """

    def __init__(self, reason: str, log: list[str] | None = None) -> None:
        super().__init__(reason)
        self.log = list(log or [])


@dataclass(frozen=True)
class CodingRequest:
    job_id: str
    text: str
    patch: str | None = None
    evidence: dict[str, Any] | None = None
    base_version: str = ""


@dataclass
class Proposal:
    """What a coder did to one worktree, for the job's log and the release notes."""

    summary: str
    log: list[str] = field(default_factory=list)


class Coder(ABC):
    name: str = "coder"
    # A human's change needs only to pass and not regress; an autonomous coder's
    # must also improve on the active version.
    must_improve: bool = True

    @classmethod
    def from_settings(cls, settings: ArchitectSettings) -> Self:
        """The coder a job uses; coders that need settings (an endpoint, caps) override it."""
        return cls()

    def candidates(self, request: CodingRequest) -> int:
        """How many candidates this coder will propose for ``request``."""
        return 1

    @abstractmethod
    def propose(self, request: CodingRequest, worktree: Path, index: int) -> Proposal:
        """Write candidate ``index`` into ``worktree``; CoderError if it cannot."""
