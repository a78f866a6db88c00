"""Releases by hand: files changed in a home's workspace, committed, released as a minor
version and made active, as a person (or a home on another machine) would."""

from __future__ import annotations

from ratchet.bootstrap import release_store
from ratchet.config import CommonSettings
from ratchet.state import open_state_manager
from ratchet.vcs import Release, ReleaseKind, ReleaseMetadata


def release_paths(settings: CommonSettings, paths: list[str], reason: str) -> Release:
    """Release the workspace's changed ``paths`` with the active state, and serve it."""
    manager = open_state_manager(settings)
    active = manager.read_active()
    assert active is not None
    releases = release_store(settings)
    with releases.lock():
        release = releases.release(
            ReleaseMetadata(kind=ReleaseKind.MINOR, author="human", reason=reason),
            message=reason,
            paths=paths,
        )
        manager.activate(
            release.version, active.document, actor="human", reason=reason, commit=release.commit
        )
    return release


def release_file(settings: CommonSettings, path: str, text: str, reason: str) -> Release:
    """Write ``path`` in the home's workspace and release it."""
    (settings.workspace_path / path).write_text(text)
    return release_paths(settings, [path], reason)
