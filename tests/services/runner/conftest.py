"""Fixtures for the Runner's tests: an initialised home and an in-process runtime."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ratchet.bootstrap import initialize
from ratchet.objects import open_object_store
from ratchet.state import open_state_manager
from services.runner.runtime import RunnerRuntime
from services.runner.settings import RunnerSettings


@pytest.fixture
def runner_settings(tmp_path: Path, project_checkout: Path) -> RunnerSettings:
    """A home whose workspace is a clone of this project (its committed HEAD):
    real processes serve the commit-scoped build of the active release."""
    settings = RunnerSettings(home=tmp_path / "home", project_root=project_checkout, port=0)
    initialize(settings)
    return settings


@pytest.fixture
def runtime(runner_settings: RunnerSettings) -> Iterator[RunnerRuntime]:
    runtime = RunnerRuntime(
        runner_settings, open_state_manager(runner_settings), open_object_store(runner_settings)
    )
    yield runtime
    runtime.stop()
