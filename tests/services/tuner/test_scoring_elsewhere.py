"""A Tuner in a home that shares only S3 with the releasing home scores candidates with
the active release's code: the build of a release it did not make, fetched by commit."""

from __future__ import annotations

from pathlib import Path

from ratchet.bootstrap import initialize
from ratchet.builds import BuildStore
from ratchet.config import CommonSettings
from ratchet.state import open_state_manager
from services.tuner.scoring import active_code_root
from tests.helpers.releases import release_file


def test_the_active_code_root_is_the_release_made_in_another_home(
    s3_settings: CommonSettings, tmp_path: Path
) -> None:
    initialize(s3_settings)
    other = s3_settings.model_copy(update={"home": tmp_path / "home-b"})
    initialize(other)
    release = release_file(s3_settings, "scorer.py", "VERSION = 2\n", "new scorer")

    root = active_code_root(open_state_manager(other), BuildStore.open(other), tmp_path / "local")

    assert root == other.home_path / "builds" / release.commit
    assert (root / "scorer.py").read_text() == "VERSION = 2\n"
    assert not (other.workspace_path / "scorer.py").exists()
