"""A minor release made in one home is served by a Runner of another home that shares
nothing with it but the S3 backend: the Runner fetches the release's published build,
so its answers name the new version and run the new code."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import anyio
import pytest
from mcp import Client

from ratchet.bootstrap import initialize
from ratchet.config import Backend
from ratchet.objects.s3 import make_client
from services.runner.settings import RunnerSettings
from tests.conftest import git
from tests.helpers.mcp import call
from tests.helpers.processes import home_env, running
from tests.helpers.s3server import S3Server
from tests.services.runner.cases import messages
from tests.services.runner.test_code_swap import release_code

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

MESSAGE = messages(1)[0]


def s3_home(home: Path, project: Path, server: S3Server, bucket: str) -> RunnerSettings:
    return RunnerSettings(
        home=home,
        project_root=project,
        port=0,
        backend=Backend.S3,
        s3_endpoint_url=server.endpoint,
        s3_bucket=bucket,
    )


def has_commit(workspace: Path, commit: str) -> bool:
    try:
        git(workspace, "cat-file", "-e", f"{commit}^{{commit}}")
    except subprocess.CalledProcessError:
        return False
    return True


async def test_a_release_made_in_one_home_is_served_by_another(
    tmp_path: Path, project_checkout: Path, s3_server: S3Server
) -> None:
    bucket = f"t-{uuid.uuid4().hex[:20]}"
    make_client(s3_server.endpoint, "us-east-1").create_bucket(Bucket=bucket)
    home_a = s3_home(tmp_path / "a", project_checkout, s3_server, bucket)
    home_b = s3_home(tmp_path / "b", project_checkout, s3_server, bucket)
    initialize(home_a)
    initialize(home_b)  # its own workspace; the pointer it finds is home A's
    env = home_env(
        home_b.home_path,
        RATCHET_BACKEND="s3",
        RATCHET_S3_BUCKET=bucket,
        RATCHET_S3_ENDPOINT_URL=s3_server.endpoint,
        RATCHET_RUNNER_PORT="0",
        RATCHET_RUNNER_POLL_INTERVAL="0.05",
    )
    with running("services.runner", env) as runner:
        async with Client(f"{runner.url}/mcp") as client:
            before = await call(client, "route", text=MESSAGE)
            release = release_code(home_a, "TOP_K = 3", "TOP_K = 4", "four alternatives")
            deadline = time.monotonic() + 30
            after = before
            while after["version"] != release.version and time.monotonic() < deadline:
                await anyio.sleep(0.05)  # polling the served version, not waiting for time
                after = await call(client, "route", text=MESSAGE)

    assert before["version"] == "v0.1.0" and len(before["alternatives"]) == 3
    assert after["version"] == release.version == "v0.2.0"
    assert len(after["alternatives"]) == 4  # home A's new code answered in home B
    assert not has_commit(home_b.workspace_path, release.commit)  # from the published build
    assert (home_b.home_path / "builds" / release.commit).is_dir()
