"""``promote``: gate staging with the micro tier, then release it as a patch.

Nothing is tagged unless the micro tier passed on exactly the state being
released; a pinned pointer or an unchanged state is answered with the reason.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from ratchet.builds import BuildStore
from ratchet.ci.micro import run_micro
from ratchet.errors import PinnedError
from ratchet.promotion import release_state
from ratchet.state import StateManager
from ratchet.vcs import ReleaseKind, ReleaseStore

from .intake import APPLIED, Intake


class PromoteResult(BaseModel):
    promoted: bool
    version: str | None  # the new version, or the one still active
    reason: str
    feedback_applied: int


class Promoter:
    def __init__(
        self,
        manager: StateManager,
        intake: Intake,
        releases: ReleaseStore,
        builds: BuildStore,
        local_root: Path,
    ) -> None:
        self.manager = manager
        self.intake = intake
        self.releases = releases
        self.builds = builds
        self.local_root = local_root

    def promote(self) -> PromoteResult:
        active = self.manager.read_active()
        if active is None:
            return PromoteResult(
                promoted=False,
                version=None,
                feedback_applied=0,
                reason="no active version yet: run `ratchet init`",
            )
        staging = self.intake.apply_pending()  # release everything received so far
        applied = int((staging.tuning or {}).get(APPLIED, 0))

        def refused(reason: str) -> PromoteResult:
            return PromoteResult(
                promoted=False, version=active.version, reason=reason, feedback_applied=applied
            )

        if active.pointer.pinned:
            return refused(
                f"pinned: {active.version} is pinned by {active.pointer.actor} "
                f"({active.pointer.reason or 'no reason given'}); unpin it first"
            )
        if staging.content_hash() == active.document.content_hash():
            return refused(f"nothing to release: staging equals the state of {active.version}")
        commit = active.pointer.commit
        code_root = self.builds.ensure(commit) if commit else self.local_root
        report = run_micro(staging, code_root)
        if not report.passed:
            return refused(report.reason)
        try:
            release = release_state(
                self.manager,
                self.releases,
                staging,
                kind=ReleaseKind.PATCH,
                author="tuner",
                reason=f"tuned state from {applied} feedbacks",
                metadata={
                    "feedback_applied": applied,
                    "staging_revision": staging.revision,
                    "micro": report.reason,
                },
            )
        except PinnedError as exc:  # pinned between the check and the release
            return refused(f"pinned: {exc}")
        return PromoteResult(
            promoted=True,
            version=release.version,
            feedback_applied=applied,
            reason=f"released {release.version}; {report.reason}",
        )
