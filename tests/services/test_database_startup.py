"""A service given a bad ``RATCHET_DATABASE_URL`` stops at start, exit code 2, with one
line that names the variable and the fix: a wrong scheme, a server nobody answers on,
tables newer than the code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from ratchet.bootstrap import initialize
from ratchet.config import CommonSettings
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow


@pytest.fixture
def home(tmp_path: Path, source_repo: Path) -> Path:
    initialize(CommonSettings(home=tmp_path / "home", project_root=source_repo))
    return tmp_path / "home"


def start(module: str, home: Path, url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RATCHET_")}
    env.update(
        RATCHET_HOME=str(home),
        RATCHET_DATABASE_URL=url,
        RATCHET_TUNER_PORT="0",
        RATCHET_VERSIONS_PORT="0",
    )
    return subprocess.run(
        [sys.executable, "-m", module],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def refused(result: subprocess.CompletedProcess[str], said: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and "RATCHET_DATABASE_URL: " in lines[0] and said in lines[0], lines
    assert result.stdout == ""  # never announced readiness


def test_a_wrong_scheme_stops_a_service_that_opens_no_database(home: Path) -> None:
    refused(start("services.versions", home, "mysql://u:p@db/x"), "postgresql://")


def test_bad_databases_stop_the_tuner(home: Path, postgres_url: str) -> None:
    """(A user without rights is refused by the same path at open: tests/core/test_db.py.)"""
    refused(start("services.tuner", home, "postgresql://u:pw@127.0.0.1:9/x"), "cannot connect")
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("CREATE TABLE ratchet_schema (store TEXT PRIMARY KEY, version INTEGER)")
        admin.execute("INSERT INTO ratchet_schema VALUES ('sessions', 99)")
    refused(start("services.tuner", home, postgres_url), "schema version 99, newer than")
