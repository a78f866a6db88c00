"""A release by hand: one new file committed, released as a minor version and made active,
as a person (or a home on another machine) would."""

from __future__ import annotations

from ratchet.bootstrap import release_store
from ratchet.config import CommonSettings
from ratchet.state import open_state_manager
from ratchet.vcs import Release, ReleaseKind, ReleaseMetadata


def release_file(settings: CommonSettings, path: str, text: str, reason: str) -> Release:
    """Write ``path`` in the home's workspace, release it with the active state, serve it."""
    manager = open_state_manager(settings)
    active = manager.read_active()
    assert active is not None
    (settings.workspace_path / path).write_text(text)
    releases = release_store(settings)
    with releases.lock():
        release = releases.release(
            ReleaseMetadata(kind=ReleaseKind.MINOR, author="human", reason=reason),
            message=reason,
            paths=[path],
        )
        manager.activate(
            release.version, active.document, actor="t", reason=reason, commit=release.commit
        )
    return release
