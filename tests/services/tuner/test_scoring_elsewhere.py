"""A Tuner in a home that shares only S3 with the releasing home scores candidates with
the active release's code: the build of a release it did not make, fetched by commit."""

from __future__ import annotations

from pathlib import Path

from ratchet.bootstrap import initialize, release_store
from ratchet.builds import BuildStore
from ratchet.config import CommonSettings
from ratchet.state import open_state_manager
from ratchet.vcs import ReleaseKind, ReleaseMetadata
from services.tuner.scoring import active_code_root


def test_the_active_code_root_is_the_release_made_in_another_home(
    s3_settings: CommonSettings, tmp_path: Path
) -> None:
    initialize(s3_settings)
    other = s3_settings.model_copy(update={"home": tmp_path / "home-b"})
    initialize(other)
    manager = open_state_manager(s3_settings)
    active = manager.read_active()
    assert active is not None
    (s3_settings.workspace_path / "scorer.py").write_text("VERSION = 2\n")
    releases = release_store(s3_settings)
    with releases.lock():
        release = releases.release(
            ReleaseMetadata(kind=ReleaseKind.MINOR, author="human", reason="new scorer"),
            message="new scorer",
            paths=["scorer.py"],
        )
        manager.activate(
            release.version, active.document, actor="t", reason="new scorer", commit=release.commit
        )

    root = active_code_root(open_state_manager(other), BuildStore.open(other), tmp_path / "local")

    assert root == other.home_path / "builds" / release.commit
    assert (root / "scorer.py").read_text() == "VERSION = 2\n"
    assert not (other.workspace_path / "scorer.py").exists()
