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
from typing import Any, Self

from ratchet.errors import RatchetError

from ..ledger import LedgerEntry
from ..settings import ArchitectSettings


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
    # The ledger's earlier proposals on ``base_version``: what was tried and how it fared,
    # so a coder can leave out what was rejected already.
    tried: tuple[LedgerEntry, ...] = ()

    def rejected(self, fingerprint: str) -> LedgerEntry | None:
        """The latest ledger entry that rejected ``fingerprint`` on this base version."""
        found = [
            e
            for e in self.tried
            if e.fingerprint == fingerprint
            and e.base_version == self.base_version
            and e.result == "rejected"
        ]
        return max(found, key=lambda e: e.seq) if found else None


@dataclass
class Proposal:
    """What a coder did to one worktree, for the job's log and the release notes."""

    summary: str
    log: list[str] = field(default_factory=list)
    # What was tried, as a key the ledger matches on (``template:<id>``); empty: the
    # job fingerprints the candidate's diff instead.
    fingerprint: str = ""


class Coder(ABC):
    name: str = "coder"
    # A human's change needs only to pass and not regress; an autonomous coder's
    # must also improve on the active version.
    must_improve: bool = True
    # Code nobody reviewed: refused on a machine without a sandbox
    # (:mod:`services.architect.sandboxing`); a human's diff still runs there.
    autonomous: bool = True

    @classmethod
    def from_settings(cls, settings: ArchitectSettings) -> Self:
        """The coder as configured (coders with settings override this)."""
        return cls()

    def notes(self, request: CodingRequest) -> list[str]:
        """Lines for the plan's log, e.g. what the ledger made this coder leave out."""
        return []

    def candidates(self, request: CodingRequest) -> int:
        """How many candidates this coder will propose for ``request``."""
        return 1

    @abstractmethod
    def propose(self, request: CodingRequest, worktree: Path, index: int) -> Proposal:
        """Write candidate ``index`` into ``worktree``; CoderError if it cannot."""
