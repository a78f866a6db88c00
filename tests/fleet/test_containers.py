"""Commit-scoped images: a missing Docker engine is detected and skipped; a present one builds."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from fleet.containers import ImageBuilder, ImageFollower, image_tags
from ratchet.bootstrap import initialize, release_store
from ratchet.builds import BuildStore
from ratchet.config import CommonSettings
from tests.conftest import git


@pytest.fixture
def released(tmp_path: Path, source_repo: Path) -> CommonSettings:
    """A home whose v0.1.0 holds a tiny Dockerfile (buildable in seconds where an engine runs)."""
    (source_repo / "Dockerfile").write_text("FROM scratch\nCOPY README.md /README.md\n")
    git(source_repo, "add", "Dockerfile")
    git(source_repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "dockerfile")
    settings = CommonSettings(home=tmp_path / "home", project_root=source_repo)
    initialize(settings)
    return settings


def builder(settings: CommonSettings) -> ImageBuilder:
    return ImageBuilder(BuildStore(settings.workspace_path, settings.home_path / "builds"))


def test_no_engine_is_detected_logged_once_and_skipped(
    released: CommonSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")  # nothing listens
    images = builder(released)
    (release,) = release_store(released).releases()
    with caplog.at_level(logging.INFO, logger="fleet.containers"):
        assert images.build(release) is None
        assert images.build(release) is None
        assert images.has_image(release) is False
    skipped = [r for r in caplog.records if "no Docker engine" in r.getMessage()]
    assert len(skipped) == 1 and "commit-scoped images skipped" in skipped[0].getMessage()
    assert images.reason  # the cause, for `ratchet up` to print
    follower = ImageFollower(images, release_store(released))
    assert follower.start() is False and follower.sync() == []


def test_image_tags_name_the_commit_and_the_semver(released: CommonSettings) -> None:
    (release,) = release_store(released).releases()
    assert image_tags(release) == (f"ratchet:{release.commit}", "ratchet:v0.1.0")


def test_a_release_is_built_and_tagged_where_an_engine_answers(released: CommonSettings) -> None:
    images = builder(released)
    if images.engine() is None:
        pytest.skip(f"no Docker engine answers here: {images.reason}")
    (release,) = release_store(released).releases()
    tag = images.build(release)
    assert tag == f"ratchet:{release.commit}"
    client = images.engine()
    image = client.images.get(tag)
    assert "ratchet:v0.1.0" in image.tags
    assert image.labels["ratchet.commit"] == release.commit
    assert ImageFollower(images, release_store(released)).sync() == ["v0.1.0"]  # found, not rebuilt
