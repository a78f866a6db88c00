"""One run of one job, as the plan fixed it: the value every later step of the pipeline shares.

The plan decides the base (the active release), the coder and what it was
asked, how many candidates, and the build the tiers read; the steps after it
(candidates, rank, full, release) only read that, and record what they do
through the run's recorder (stages) and book (candidates, ledger).
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from ratchet.state import ActiveState

from .book import Book
from .coders import Coder, CodingRequest
from .context import ArchitectContext
from .jobs import Job
from .stages import Recorder


@dataclass(frozen=True, kw_only=True)
class JobRun:
    ctx: ArchitectContext
    job: Job
    recorder: Recorder
    book: Book
    active: ActiveState  # the base every candidate starts from and is compared with
    base_commit: str  # ``active``'s commit (the plan refuses a base without one)
    build: Path  # the base's build: the data every tier reads
    coder: Coder
    request: CodingRequest
    candidates: int  # how many the coder proposes
    worktrees: ExitStack  # the candidates' worktrees, open until the job is done with them

    @property
    def base_version(self) -> str:
        return self.active.version

    @property
    def workspace(self) -> Path:
        return self.ctx.settings.workspace_path
