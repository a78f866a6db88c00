"""The REST surface in-process: intake, jobs, errors as 4xx with a reason."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.architect.app import create_app, with_body_limit
from services.architect.context import ArchitectContext
from services.architect.jobs import STAGES
from services.architect.settings import ArchitectSettings

PATCH = "--- a/README.md\n+++ b/README.md\n@@ -1 +1 @@\n-old\n+new\n"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = ArchitectSettings(home=tmp_path / "home", port=0, max_body_bytes=4096)
    ctx = ArchitectContext.from_settings(settings)
    app = create_app(settings, ctx, run_worker=False)  # jobs stay queued: intake only
    with TestClient(with_body_limit(app, settings)) as test_client:
        yield test_client
    ctx.close()


def test_feedback_is_accepted_with_a_job_id_and_the_job_is_listed(client: TestClient) -> None:
    answer = client.post("/feedback", json={"text": "be better", "patch": PATCH})
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["job_id"]
    assert answer.headers["location"] == f"/jobs/{job_id}"
    job = client.get(f"/jobs/{job_id}").json()
    assert (job["status"], job["has_patch"]) == ("queued", True)
    assert [s["name"] for s in job["stages"]] == list(STAGES)
    assert [j["id"] for j in client.get("/jobs").json()["jobs"]] == [job_id]
    assert client.get("/healthz").json()["queued"] == 1


def test_an_idempotency_key_makes_a_retry_the_same_job(client: TestClient) -> None:
    body = {"text": "x", "idempotency_key": "retry-1"}
    first, again = client.post("/feedback", json=body), client.post("/feedback", json=body)
    assert first.json()["job_id"] == again.json()["job_id"] and again.json()["duplicate"]


def test_wake_creates_a_job_carrying_the_evidence(client: TestClient) -> None:
    answer = client.post("/wake", json={"reason": "p95 burn", "evidence": {"burn_rate": 14.4}})
    assert answer.status_code == 202
    job = client.get(f"/jobs/{answer.json()['job_id']}").json()
    assert (job["kind"], job["evidence"]) == ("wake", {"burn_rate": 14.4})


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"text": "unterminated', "malformed JSON"),
        (b"[1, 2]", "body"),
        (b'{"text": ""}', "text: String should have at least 1 character"),
        (b'{"text": "x", "patch": "not a diff"}', "patch: malformed diff"),
        (b'{"text": "x", "patch": ""}', "patch: the patch is empty"),
        (b'{"text": "x", "idempotency_key": "../x"}', "idempotency_key"),
        (b'{"text": "x", "surprise": 1}', "surprise: Extra inputs are not permitted"),
    ],
)
def test_malformed_input_is_a_400_with_a_reason(
    client: TestClient, body: bytes, reason: str
) -> None:
    answer = client.post("/feedback", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert reason in answer.json()["detail"]
    assert client.get("/jobs").json()["jobs"] == []


def test_an_oversize_body_is_a_413_with_a_reason(client: TestClient) -> None:
    answer = client.post("/feedback", json={"text": "x" * 5000})
    assert answer.status_code == 413
    assert "over the limit of 4096 bytes" in answer.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        yield b'{"text": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    streamed = client.post(
        "/feedback", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413


def test_unknown_and_malformed_job_ids(client: TestClient) -> None:
    assert client.get("/jobs/abc123").status_code == 404
    assert client.get("/jobs/not-hex!").status_code == 400
    assert client.get("/jobs?limit=0").status_code == 400


def test_openapi_documents_the_contract(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert {"/feedback", "/wake", "/jobs", "/jobs/{job_id}", "/healthz"} <= set(schema["paths"])
    feedback = schema["paths"]["/feedback"]["post"]["responses"]
    assert {"202", "400", "413"} <= set(feedback) and "422" not in feedback
