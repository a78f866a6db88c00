"""A serving home whose active release has no build anywhere keeps serving what it serves,
says so once, and follows the release once its build is published."""

from __future__ import annotations

import logging
from pathlib import Path

import anyio
import pytest
from starlette.applications import Starlette

from ratchet.bootstrap import initialize
from ratchet.build_archive import archive_key
from ratchet.builds import BuildStore
from ratchet.config import CommonSettings
from ratchet.hotswap import AppSwitch
from ratchet.objects import open_object_store
from ratchet.release_follower import Loaded, ReleaseFollower
from ratchet.state import open_state_manager
from services.runner.settings import RunnerSettings
from tests.conftest import git
from tests.helpers.releases import release_file


def test_a_release_without_a_build_anywhere_is_followed_once_it_is_published(
    s3_settings: CommonSettings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    initialize(s3_settings)  # home A: it releases
    serving = RunnerSettings(
        home=tmp_path / "home-b",
        project_root=s3_settings.project_root,
        backend=s3_settings.backend,
        s3_endpoint_url=s3_settings.s3_endpoint_url,
        s3_bucket=s3_settings.s3_bucket,
        port=0,
    )
    initialize(serving)  # home B: shares A's pointer and serves it
    served = git(serving.workspace_path, "rev-parse", "v0.1.0")
    release = release_file(s3_settings, "feature.txt", "made in A\n", "a feature")
    objects = open_object_store(s3_settings)
    build = objects.get(archive_key(release.commit)).data
    objects.delete(archive_key(release.commit))  # as if its home never published it

    follower = ReleaseFollower(
        serving,
        open_state_manager(serving),
        BuildStore.open(serving),
        package="app",  # the tiny project's code; the release changed none of it
        poll_interval=1,
    )
    code = BuildStore.open(s3_settings).code_key(release.commit, ("app",))
    follower.current = Loaded("v0.1.0", served, code, None, Starlette())
    switch = AppSwitch("v0.1.0", Starlette())
    with caplog.at_level(logging.ERROR, logger="ratchet.release_follower"):
        for _ in range(2):  # polled again and again: said once
            anyio.run(follower._step, switch)
    assert follower.current.commit == served  # still serving what it served
    (said,) = [r.getMessage() for r in caplog.records if "cannot serve" in r.getMessage()]
    assert release.version in said and "still serving v0.1.0" in said

    objects.put(archive_key(release.commit), build)  # published after all
    anyio.run(follower._step, switch)
    assert follower.current.commit == release.commit  # the same code: the commit followed
    assert follower.replacements == 0
