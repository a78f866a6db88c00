"""The same registry with state and eval summaries on S3 (moto's server on loopback)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from ratchet.bootstrap import initialize
from ratchet.config import Backend, CommonSettings
from services.versions.app import create_app
from services.versions.settings import VersionsSettings
from tests.services.versions.conftest import tune, write_summary


def test_listing_pointer_and_evals_on_s3(s3_settings: CommonSettings) -> None:
    settings = VersionsSettings(
        home=s3_settings.home,
        project_root=s3_settings.project_root,
        backend=Backend.S3,
        s3_endpoint_url=s3_settings.s3_endpoint_url,
        s3_bucket=s3_settings.s3_bucket,
        port=0,
    )
    initialize(settings)
    release = tune(settings, lambda d: d["params"]["knn_k"].update(value=11.0), reason="k 11")
    write_summary(settings, release.commit, {"heldout_accuracy": 0.82, "error_rate": 0.001})
    client = TestClient(create_app(settings))
    assert [v["version"] for v in client.get("/versions").json()["versions"]] == [
        "v0.1.1",
        "v0.1.0",
    ]
    assert client.get("/versions/active").json()["version"] == "v0.1.1"
    moves = client.get("/pointer/history").json()["moves"]
    assert [(m["action"], m["version"]) for m in moves] == [
        ("activate", "v0.1.1"),
        ("activate", "v0.1.0"),
    ]
    assert client.get("/versions/v0.1.1/evals").json()["kpis"]["heldout_accuracy"] == 0.82
    assert [p["version"] for p in client.get("/kpis").json()["points"]] == ["v0.1.1"]
    assert client.get("/versions/v0.1.0/evals").status_code == 404
