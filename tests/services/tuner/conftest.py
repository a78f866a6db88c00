"""Fixtures for the Tuner's tests: an initialised home with turns the Runner answered."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from ratchet.bootstrap import initialize
from ratchet.sessions import SessionStore
from services.tuner.settings import TunerSettings
from tests.conftest import PROJECT_ROOT
from tests.helpers.mcp import call
from tests.helpers.turns import answered

__all__ = ["answered", "initialised_home", "settled"]


def initialised_home(home: Path, project_root: Path) -> TunerSettings:
    settings = TunerSettings(home=home, project_root=project_root, port=0)
    initialize(settings)
    return settings


@pytest.fixture
def tuner_settings(tmp_path: Path, source_repo: Path) -> TunerSettings:
    """A home cloned from a tiny project: enough for intake (no agent code)."""
    return initialised_home(tmp_path / "home", source_repo)


@pytest.fixture
def project_home(tmp_path: Path) -> TunerSettings:
    """A home cloned from this project: the micro tier runs the agent's real code."""
    return initialised_home(tmp_path / "home", PROJECT_ROOT)


def open_sessions(settings: TunerSettings) -> Iterator[SessionStore]:
    store = SessionStore.open(settings)
    yield store
    store.close()


@pytest.fixture
def sessions(tuner_settings: TunerSettings) -> Iterator[SessionStore]:
    yield from open_sessions(tuner_settings)


@pytest.fixture
def store(project_home: TunerSettings) -> Iterator[SessionStore]:
    yield from open_sessions(project_home)


async def settled(client: Client, timeout: float = 60) -> dict[str, Any]:
    """``status`` once every stored feedback is applied (the Tuner applies in the background)."""
    deadline = time.monotonic() + timeout
    while (status := await call(client, "status"))["feedback_pending"]:
        assert time.monotonic() < deadline, f"feedback still pending after {timeout} s: {status}"
        await anyio.sleep(0.02)
    return status
