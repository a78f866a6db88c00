"""First start: workspace, v0.1.0, the active pointer; idempotent and self-repairing."""

from __future__ import annotations

import json
from pathlib import Path

from ratchet.bootstrap import initialize, release_store
from ratchet.config import CommonSettings
from ratchet.state import ACTIVE_KEY, open_state_manager
from ratchet.vcs import ReleaseKind, ReleaseMetadata
from tests.conftest import git


def test_first_start_releases_v010_and_points_at_it(settings: CommonSettings) -> None:
    report = initialize(settings)
    assert report.active_version == "v0.1.0"
    releases = release_store(settings).releases()
    assert [r.version for r in releases] == ["v0.1.0"]
    assert releases[0].metadata.author == "human" and releases[0].metadata.parent is None
    manager = open_state_manager(settings)
    active = manager.read_active()
    assert active is not None and active.pointer.commit == releases[0].commit
    assert active.document.content_hash() == releases[0].metadata.state_hash
    assert git(settings.workspace_path, "status", "--porcelain") == ""  # runtime files ignored


def test_a_source_with_releases_of_its_own_starts_a_new_home_at_v010(
    settings: CommonSettings, tmp_path: Path
) -> None:
    """A candidate's tree comes from a workspace that has released (here up to v0.1.1);
    the suite it runs starts homes from it, which must begin at v0.1.0 as in the project."""
    initialize(settings)
    releases = release_store(settings)
    with releases.lock():
        releases.release(
            ReleaseMetadata(kind=ReleaseKind.PATCH, author="human", state_hash="x", reason="r"),
            message="a later release",
            allow_empty=True,
        )
    assert [r.version for r in releases.releases()] == ["v0.1.1", "v0.1.0"]
    second = settings.model_copy(
        update={"home": tmp_path / "second", "project_root": settings.workspace_path}
    )
    report = initialize(second)
    assert report.active_version == "v0.1.0"
    assert [r.version for r in release_store(second).releases()] == ["v0.1.0"]


def test_second_start_changes_nothing(settings: CommonSettings) -> None:
    initialize(settings)
    again = initialize(settings)
    assert again.steps == []
    assert len(open_state_manager(settings).pointer_history()) == 1


def test_a_torn_active_copy_is_repaired_on_start(settings: CommonSettings) -> None:
    initialize(settings)
    path = settings.workspace_path / "state" / ACTIVE_KEY
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])
    report = initialize(settings)
    assert any("rewrote" in step for step in report.steps)
    assert json.loads(path.read_bytes()) == json.loads(good)


def test_the_real_project_clones_and_releases(tmp_path: object) -> None:
    from pathlib import Path

    from tests.conftest import PROJECT_ROOT

    settings = CommonSettings(home=Path(str(tmp_path)) / "home", project_root=PROJECT_ROOT)
    assert initialize(settings).active_version == "v0.1.0"
    assert (settings.workspace_path / "ratchet" / "state" / "manager.py").exists()
