"""After an abort, main no longer carries the aborted release.

A release is a commit on the workspace's main branch, and every later release
(a Tuner patch, the Architect's next job) is made on top of main: left there,
an aborted change would ride along in each of them. So an abort is followed
by a release that reverts it (``git revert`` of the aborted release's commit,
tagged as a patch by the aborted release's author, the decision that aborted
it as its reason), served at once: its tree is the stable version's again,
so there is nothing for a rollout to compare. A revert that does not apply
(a later release changed the same lines) or that the path policy refuses (it
would loosen budgets the release tightened) is left to a person, with a
warning.
"""

from __future__ import annotations

import logging

from git import GitCommandError

from ratchet.errors import PolicyError
from ratchet.rollouts.model import Rollout
from ratchet.state import ACTIVE_KEY, StateDocument, StateManager
from ratchet.vcs import Release, ReleaseKind, ReleaseMetadata, ReleaseStore, open_repo

log = logging.getLogger(__name__)


def revert_aborted(
    releases: ReleaseStore, manager: StateManager, rollout: Rollout
) -> Release | None:
    """Release the revert of ``rollout``'s aborted canary and serve it; None when there is
    nothing to revert (no commit, not on main, reverted already) or it does not apply."""
    commit = rollout.canary.commit
    if commit is None or rollout.verdict is None:
        return None
    with releases.begin():
        if _reverted(releases, rollout.version) or not _staged_revert(releases, commit):
            return None
        relative = f"state/{ACTIVE_KEY}"
        document = StateDocument.from_file_bytes(
            relative, (releases.workspace / relative).read_bytes()
        )
        why = "; ".join(rollout.verdict.reasons)
        metadata = ReleaseMetadata.model_validate(
            {
                "kind": ReleaseKind.PATCH,
                "author": rollout.author,
                "reason": f"revert {rollout.version}: rollout {rollout.id} aborted it ({why})",
                "state_hash": document.content_hash(),
                "reverts": rollout.version,
                # the abort decided it: the tests the aborted release added go with it
                "authorised": ["test-changes"],
            }
        )
        try:
            release = releases.release(metadata, message=f"revert {rollout.version}")
        except PolicyError as exc:  # e.g. it would loosen budgets the release tightened
            _clean(releases)
            log.warning("cannot revert %s on main: %s", rollout.version, exc)
            return None
        except BaseException:
            _clean(releases)
            raise
        manager.activate(
            release.version,
            document,
            actor="rollout",
            reason=f"revert of {rollout.version} (rollout {rollout.id} aborted it)",
            commit=release.commit,
        )
    log.info("released %s: the revert of aborted %s", release.version, rollout.version)
    return release


def _reverted(releases: ReleaseStore, version: str) -> bool:
    return any(
        (r.metadata.model_extra or {}).get("reverts") == version for r in releases.releases()
    )


def _staged_revert(releases: ReleaseStore, commit: str) -> bool:
    """The revert of ``commit`` staged on main; False (main untouched) if it cannot be."""
    with open_repo(releases.workspace) as repo:
        try:
            repo.git.merge_base("--is-ancestor", commit, "HEAD")
        except GitCommandError:
            return False  # not on main (its branch was discarded): nothing rides along
        try:
            repo.git.revert("--no-commit", commit)
        except GitCommandError as exc:
            log.warning("cannot revert %s on main: %s", commit[:12], str(exc).splitlines()[-1])
            _clean(releases)
            return False
        if not repo.git.diff("--cached", "--name-only").strip():
            _clean(releases)
            return False
    return True


def _clean(releases: ReleaseStore) -> None:
    with open_repo(releases.workspace) as repo:
        repo.git.reset("--hard", "--quiet", "HEAD")
        repo.git.clean("-fdq")
