"""Releasing a state document: commit it, tag the version, move the pointer.

The order makes every crash recoverable: the state file is committed in the
same commit the tag points at, so a tag never exists without its state; the
pointer moves last, so it never names a tag that does not exist. A crash
between tag and move leaves a released but inactive version, which the next
promotion supersedes.

A home releases only on top of the active release: where homes share the state
store, a home whose workspace lacks the active commit (another home made it)
would release this state on older code, silently undoing that release.
"""

from __future__ import annotations

from typing import Any

from git import GitCommandError

from ratchet.atomic import atomic_write_bytes
from ratchet.errors import ConflictError
from ratchet.rollouts.delivery import Deliverer
from ratchet.state import ACTIVE_KEY, PointerAction, StateDocument, StateManager
from ratchet.state.revisioned import dumps
from ratchet.vcs import Release, ReleaseKind, ReleaseMetadata, ReleaseStore, open_repo


def release_state(
    manager: StateManager,
    releases: ReleaseStore,
    document: StateDocument,
    *,
    kind: ReleaseKind,
    author: str,
    reason: str,
    metadata: dict[str, Any] | None = None,
    parent_revision: int | None = None,
    deliverer: Deliverer | None = None,
) -> Release:
    """Commit ``document`` as ``state/active.state.json``, tag and deliver it (``deliverer``:
    at once or as a rollout's canary; None: activate at once); return the release.

    ``parent_revision``: the pointer revision ``document`` was made on; if the stable
    version moved since (checked under the release lock), ConflictError and nothing is
    released. A rollout's moves (a canary's weight) leave the stable version as it was.
    """
    relative = f"state/{ACTIVE_KEY}"
    with releases.begin():
        manager.refuse_if_pinned()
        _refuse_if_moved(manager, parent_revision)
        refuse_if_made_elsewhere(manager, releases)
        atomic_write_bytes(releases.workspace / relative, dumps(document.to_json(), pretty=True))
        try:
            release = releases.release(
                ReleaseMetadata.model_validate(
                    {
                        **(metadata or {}),
                        "kind": kind,
                        "author": author,
                        "reason": reason,
                        "state_hash": document.content_hash(),
                    }
                ),
                message=reason or f"{author} release",
                paths=[relative],
                allow_empty=True,
            )
        except BaseException:
            with open_repo(releases.workspace) as repo:  # nothing released: put the file back
                repo.git.reset("--quiet", "HEAD", "--", relative)
                repo.git.checkout("HEAD", "--", relative)
            raise
        if deliverer is None:
            manager.activate(
                release.version, document, actor=author, reason=reason, commit=release.commit
            )
        else:
            deliverer(release.version, document, commit=release.commit, actor=author, reason=reason)
    return release


def refuse_if_made_elsewhere(manager: StateManager, releases: ReleaseStore) -> None:
    """ConflictError if the active release's commit is not in this home's workspace.

    Versions are numbered from the workspace's own tags (README: "One home
    releases"): a home that lacks the active commit would release on older code,
    and could tag a version another home already made."""
    pointer = manager.pointer()
    if pointer is None or pointer.commit is None:
        return
    with open_repo(releases.workspace) as repo:
        try:
            repo.git.cat_file("-e", f"{pointer.commit}^{{commit}}")
            return
        except GitCommandError:
            pass
    raise ConflictError(
        f"the active release {pointer.version} was made in another home: this home's "
        f"workspace lacks its commit {pointer.commit[:12]}, so a release here would drop "
        "its changes; release from the home that made it (README: replicas)"
    )


def _refuse_if_moved(manager: StateManager, parent_revision: int | None) -> None:
    pointer = manager.pointer()
    if parent_revision is None or (pointer is not None and pointer.revision == parent_revision):
        return
    if pointer is not None and pointer.revision > parent_revision:
        moves = manager.pointer_moves(parent_revision + 1)
        if moves and all(m.action == PointerAction.CANARY for m in moves):
            return  # only a rollout's canary moved: the stable version is the one it was made on
    now = "gone" if pointer is None else f"at revision {pointer.revision} ({pointer.version})"
    raise ConflictError(
        f"the active pointer moved since this state was made on its revision "
        f"{parent_revision}: it is {now}"
    )
