"""Two Runner replicas in separate home folders that share nothing but Postgres
(``RATCHET_DATABASE_URL``) and S3: a conversation goes on from one to the other
turn by turn, the Tuner takes feedback on turns either answered (with the
arm that answered applied), and either Runner's ``/metrics``, which the Triggerer
polls, counts the calls of both."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from mcp import Client

from ratchet.bootstrap import initialize
from ratchet.config import Backend
from ratchet.objects.s3 import make_client
from services.runner.settings import RunnerSettings
from tests.helpers.mcp import call
from tests.helpers.processes import home_env, running, running_all
from tests.helpers.s3server import S3Server
from tests.services.runner.cases import messages

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

TURNS = 6


def shared_home(home: Path, project: Path, s3: S3Server, bucket: str, url: str) -> dict[str, str]:
    """A home of its own on the shared bucket and database; its processes' environment."""
    initialize(
        RunnerSettings(
            home=home,
            project_root=project,
            backend=Backend.S3,
            s3_endpoint_url=s3.endpoint,
            s3_bucket=bucket,
            database_url=url,
        )
    )
    return home_env(
        home,
        RATCHET_BACKEND="s3",
        RATCHET_S3_BUCKET=bucket,
        RATCHET_S3_ENDPOINT_URL=s3.endpoint,
        RATCHET_DATABASE_URL=url,
        RATCHET_RUNNER_PORT="0",
        RATCHET_TUNER_PORT="0",
    )


async def test_two_homes_on_one_database_serve_one_conversation(
    tmp_path: Path, project_checkout: Path, s3_server: S3Server, postgres_url: str
) -> None:
    bucket = f"t-{uuid.uuid4().hex[:20]}"
    make_client(s3_server.endpoint, "us-east-1").create_bucket(Bucket=bucket)
    env_a = shared_home(tmp_path / "a", project_checkout, s3_server, bucket, postgres_url)
    env_b = shared_home(tmp_path / "b", project_checkout, s3_server, bucket, postgres_url)
    texts = messages(TURNS)
    with (
        running_all(env_a, "services.runner", "services.tuner") as (runner_a, tuner),
        running("services.runner", env_b) as runner_b,
    ):
        async with (
            Client(f"{runner_a.url}/mcp") as a,
            Client(f"{runner_b.url}/mcp") as b,
            Client(f"{tuner.url}/mcp") as tuned,
        ):
            answers = [
                await call((a, b)[i % 2], "route", text=text, conversation_id="shared-1")
                for i, text in enumerate(texts)
            ]
            before = await call(tuned, "status")
            on_b = answers[1]  # answered by home B's Runner
            feedback = await call(
                tuned,
                "feedback",
                conversation_id="shared-1",
                turn=on_b["turn"],
                reward=1.0,
                wait=True,
            )
            after = await call(tuned, "status")
        metrics = [
            httpx.get(f"{r.url}/metrics", params={"window": 600}).json()
            for r in (runner_a, runner_b)
        ]

    assert [answer["turn"] for answer in answers] == list(range(1, TURNS + 1))
    assert {answer["conversation_id"] for answer in answers} == {"shared-1"}
    assert {answer["arm"] for answer in answers} == {answers[0]["arm"]}  # assigned once
    assert (feedback["turn"], feedback["duplicate"], feedback["applied"]) == (2, False, True)
    assert after["feedback_total"] == before["feedback_total"] + 1 == 1
    arm = on_b["arm"]
    assert after["arms"][arm]["alpha"] == before["arms"][arm]["alpha"] + 1
    assert [m["calls"] for m in metrics] == [TURNS, TURNS]  # each sees both replicas' calls
