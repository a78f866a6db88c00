"""The Versions API in-process, on a real workspace with real tags (see conftest)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from ratchet.serving import secured
from services.versions.app import create_app
from tests.services.versions.conftest import (
    BWRAP,
    TASK,
    TASK_LABELS,
    UNCONFINED,
    Home,
    client_for,
)

NEWEST_FIRST = ["v1.0.1", "v1.0.0", "v0.2.1", "v0.2.0", "v0.1.2", "v0.1.1", "v0.1.0"]


def versions(body: dict[str, Any]) -> list[str]:
    return [item["version"] for item in body["versions"]]


def test_lists_every_release_newest_first(client: TestClient, built_home: Home) -> None:
    response = client.get("/versions")
    assert response.status_code == 200
    body = response.json()
    assert versions(body) == NEWEST_FIRST
    assert body["next"] is None and body["total"] == 7 and body["active"] == "v1.0.0"
    first = body["versions"][0]
    assert first["commit"] == built_home.commits["v1.0.1"]
    assert (first["kind"], first["author"], first["parent"]) == ("patch", "tuner", "v1.0.0")
    assert first["reason"] == "tuned again"
    assert first["eval_key"] == f"evals/{built_home.commits['v1.0.1']}/summary.json"
    assert {item["task"] for item in body["versions"]} == {TASK}  # stamped on every release


def test_flags_tags_that_are_not_releases_without_listing_them(client: TestClient) -> None:
    body = client.get("/versions").json()
    flagged = {tag["name"]: tag["reason"] for tag in body["flagged"]}
    assert set(flagged) == {"v9.9.9", "v0.9.0", "vnext"}
    assert "lightweight" in flagged["v9.9.9"]
    assert "not release metadata" in flagged["v0.9.0"]
    assert "vMAJOR.MINOR.PATCH" in flagged["vnext"]
    assert not set(flagged) & set(versions(body))


def test_cursor_pages_walk_every_release_once(client: TestClient) -> None:
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        body = client.get("/versions", params=params).json()
        pages += 1
        assert len(body["versions"]) <= 3 and body["total"] == 7
        seen += versions(body)
        cursor = body["next"]
        if cursor is None:
            break
        assert cursor == seen[-1]
    assert seen == NEWEST_FIRST and pages == 3


def test_a_cursor_that_is_not_a_release_still_pages_by_version(client: TestClient) -> None:
    body = client.get("/versions", params={"cursor": "v0.2.5", "limit": 2}).json()
    assert versions(body) == ["v0.2.1", "v0.2.0"]
    assert body["next"] == "v0.2.0"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"kind": "patch"}, ["v1.0.1", "v0.2.1", "v0.1.2", "v0.1.1"]),
        ({"kind": "minor"}, ["v0.2.0", "v0.1.0"]),
        ({"kind": "major"}, ["v1.0.0"]),
        ({"author": "architect"}, ["v1.0.0", "v0.2.0"]),
        ({"author": "human"}, ["v0.1.0"]),
        ({"author": "tuner", "kind": "minor"}, []),
        ({"author": "nobody"}, []),
    ],
)
def test_filters_by_kind_and_author(
    client: TestClient, params: dict[str, str], expected: list[str]
) -> None:
    body = client.get("/versions", params=params).json()
    assert versions(body) == expected and body["total"] == len(expected)


def test_filters_and_pages_combine(client: TestClient) -> None:
    first = client.get("/versions", params={"kind": "patch", "limit": 2}).json()
    assert versions(first) == ["v1.0.1", "v0.2.1"] and first["next"] == "v0.2.1"
    second = client.get(
        "/versions", params={"kind": "patch", "limit": 2, "cursor": first["next"]}
    ).json()
    assert versions(second) == ["v0.1.2", "v0.1.1"] and second["next"] is None


def test_active_is_the_pointer_not_the_newest(client: TestClient, built_home: Home) -> None:
    body = client.get("/versions/active").json()
    assert body["version"] == "v1.0.0"
    assert body["commit"] == built_home.commits["v1.0.0"]
    assert body["pinned"] is True and body["actor"] == "human"
    assert body["reason"] == "investigating"
    assert body["release"]["kind"] == "major"
    assert isinstance(body["state_revision"], int)


def test_a_release_in_detail(client: TestClient, built_home: Home) -> None:
    body = client.get("/versions/v0.2.0").json()
    assert body["commit"] == built_home.commits["v0.2.0"]
    assert (body["kind"], body["author"], body["parent"]) == ("minor", "architect", "v0.1.2")
    assert body["links"]["job_id"] == "job-7"
    assert body["links"]["feedback_ids"] == ["fb-1", "fb-2"]
    assert body["children"] == ["v0.2.1"]
    assert body["active"] is False
    assert [entry["subject"] for entry in body["changelog"]] == ["v0.2.0: use 12 neighbours"]
    assert body["changelog"][0]["commit"] == built_home.commits["v0.2.0"]
    assert body["task"] == TASK and "task" not in body["metadata"]  # in its own field
    assert body["sandbox"] == UNCONFINED  # from its eval summary


def test_a_release_says_which_sandbox_its_tiers_ran_under(client: TestClient) -> None:
    assert client.get("/versions/v1.0.0").json()["sandbox"] == BWRAP
    assert client.get("/versions/v0.1.0").json()["sandbox"] is None  # a summary without it
    assert client.get("/versions/v0.1.1").json()["sandbox"] is None  # no summary at all


def test_the_task_the_home_serves(client: TestClient) -> None:
    response = client.get("/task")
    assert response.status_code == 200
    assert response.json() == {
        "name": TASK,
        "kind": "intent",
        "description": "Three toy intents.",
        "labels": 3,
        "label_names": sorted(TASK_LABELS),  # undeclared: sorted
        "oos_label": None,
        "train_rows": 120,
        "test_rows": 15,
        "source": "made up for the tests",
        "licence": "CC0",
    }


def test_a_home_serving_no_task_says_so(home: Home) -> None:
    (home.workspace / "tasks" / "active.json").unlink()
    with client_for(home) as client:
        response = client.get("/task")
    assert response.status_code == 404
    assert "serves no task" in response.json()["detail"]


def test_a_tuner_patch_shows_its_metadata(client: TestClient) -> None:
    body = client.get("/versions/v1.0.1").json()
    assert body["links"]["feedback_applied"] == 3
    assert body["metadata"]["kpis"] == {"feedback": 3, "mean_reward": 0.67}
    assert "kind" not in body["metadata"]  # shown in its own field


def test_evals_of_a_release(client: TestClient, built_home: Home) -> None:
    body = client.get("/versions/v0.2.0/evals").json()
    assert body["key"] == f"evals/{built_home.commits['v0.2.0']}/summary.json"
    assert body["kpis"] == {
        "heldout_accuracy": 0.83,  # served: what users get
        "heldout_best_arm_accuracy": 0.832,  # next to it
        "exploration_cost": 0.0015,
        "dev_accuracy": 0.84,
        "p95_latency_ms": 18.0,
        "error_rate": 0.002,
        "runner_peak_rss_mb": 412.5,
        # The task has no out-of-scope rows: not measured.
        "heldout_in_scope_accuracy": None,
        "heldout_oos_recall": None,
        "heldout_oos_precision": None,
    }


def test_evals_found_under_a_tier_and_shown_as_stored(client: TestClient) -> None:
    body = client.get("/versions/v1.0.0/evals").json()
    assert body["kpis"]["heldout_accuracy"] == 0.861
    assert body["kpis"]["dev_accuracy"] == 0.85  # from the fast tier
    assert body["summary"]["notes"] == "latency over budget"


def test_no_evals_yet_is_404_with_the_key(client: TestClient, built_home: Home) -> None:
    response = client.get("/versions/v0.1.1/evals")
    assert response.status_code == 404
    assert built_home.commits["v0.1.1"] in response.json()["detail"]


def test_diff_with_the_parent_by_default(client: TestClient) -> None:
    body = client.get("/versions/v1.0.1/diff").json()
    assert body["against"] == "v1.0.0"
    assert body["files"] == [
        {
            "status": "modified",
            "path": "state/active.state.json",
            "old_path": None,
            "additions": body["files"][0]["additions"],
            "deletions": body["files"][0]["deletions"],
        }
    ]
    changes = {c["path"]: c for c in body["state"]["changes"]}
    assert changes["/data/params/blend_weight/value"] == {
        "path": "/data/params/blend_weight/value",
        "op": "changed",
        "before": 0.6,
        "after": 0.7,
    }
    assert body["state"]["truncated"] is False


def test_diff_against_any_release_lists_code_and_state(client: TestClient) -> None:
    body = client.get("/versions/v1.0.0/diff", params={"against": "v0.1.0"}).json()
    files = {f["path"]: f["status"] for f in body["files"]}
    assert files == {
        "services/runner/agent/notes.py": "added",
        "state/active.state.json": "modified",
    }
    paths = {c["path"]: c["op"] for c in body["state"]["changes"]}
    assert paths["/data/rules/0"] == "added"
    assert paths["/data/params/knn_k/value"] == "changed"
    assert paths["/data/strategy/arms/blend/alpha"] == "changed"


def test_diff_of_a_release_with_itself_is_empty(client: TestClient) -> None:
    body = client.get("/versions/v0.2.0/diff", params={"against": "v0.2.0"}).json()
    assert body["files"] == [] and body["state"]["changes"] == []


def test_pointer_history_newest_first(client: TestClient) -> None:
    body = client.get("/pointer/history").json()
    moves = [(m["action"], m["version"], m["actor"]) for m in body["moves"]]
    assert moves[:2] == [("pin", "v1.0.0", "human"), ("rollback", "v1.0.0", "human")]
    assert moves[-1] == ("activate", "v0.1.0", "init")
    assert [m[1] for m in moves if m[0] == "activate"] == NEWEST_FIRST
    assert body["moves"][1]["reason"] == "latency regression"
    assert body["active"] == "v1.0.0" and body["pinned"] is True


def test_kpis_for_the_chart(client: TestClient) -> None:
    body = client.get("/kpis").json()
    assert [p["version"] for p in body["points"]] == ["v0.1.0", "v0.2.0", "v1.0.0"]
    assert body["points"][2]["p95_latency_ms"] == 61.0
    assert body["budgets"]["min_heldout_accuracy"] == 0.78
    assert body["budgets"]["max_p95_latency_ms"] == 50
    assert body["budgets"]["max_error_rate"] == 0.01
    assert body["budgets_source"].startswith("ci/budgets.json at ")
    assert body["releases"] == 7


@pytest.mark.parametrize(
    "path",
    [
        "/versions",
        "/versions?kind=patch&limit=2",
        "/versions/active",
        "/versions/v0.2.0",
        "/versions/v0.2.0/evals",
        "/versions/v0.2.0/diff",
        "/pointer/history",
        "/kpis",
        "/task",
    ],
)
def test_etag_and_304(client: TestClient, path: str) -> None:
    first = client.get(path)
    etag = first.headers["etag"]
    assert first.status_code == 200 and etag.startswith('"')
    assert first.headers["cache-control"] == "no-cache"
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    listed = client.get(path, headers={"If-None-Match": f'"other", W/{etag}'})
    assert listed.status_code == 304
    stale = client.get(path, headers={"If-None-Match": '"stale"'})
    assert stale.status_code == 200 and stale.json() == first.json()


def test_different_pages_have_different_etags(client: TestClient) -> None:
    tags = {client.get("/versions", params={"limit": n}).headers["etag"] for n in (1, 2, 3)}
    assert len(tags) == 3


@pytest.mark.parametrize(
    "path",
    [
        "/versions/v1.x",
        "/versions/1.0.0",
        "/versions/v01.0.0",
        "/versions/v1.0.0-rc1",
        "/versions/v1.x/evals",
        "/versions/v1.x/diff",
        "/versions/v1.0.0/diff?against=latest",
        "/versions?cursor=v1",
        "/versions?limit=0",
        "/versions?limit=501",
        "/versions?limit=ten",
        "/versions?kind=hotfix",
        f"/versions?author={'a' * 65}",
    ],
)
def test_malformed_input_is_400_with_a_reason(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail


def test_a_malformed_version_says_the_expected_form(client: TestClient) -> None:
    detail = client.get("/versions/v1.x").json()["detail"]
    assert "'v1.x'" in detail and "vMAJOR.MINOR.PATCH" in detail


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/versions/v3.0.0", "no release v3.0.0; the newest is v1.0.1"),
        ("/versions/v3.0.0/evals", "no release v3.0.0"),
        ("/versions/v3.0.0/diff", "no release v3.0.0"),
        ("/versions/v1.0.0/diff?against=v0.0.9", "no release v0.0.9"),
        ("/versions/v9.9.9", "v9.9.9 is tagged but is not a release: lightweight tag"),
        ("/versions/v0.9.0", "not release metadata"),
        ("/versions/v0.1.0/diff", "no parent release; pass against="),
    ],
)
def test_unknown_is_404_with_a_reason(client: TestClient, path: str, words: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert words in response.json()["detail"]


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "service": "versions"}


def test_openapi_documents_400_not_422(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    assert {
        "/versions",
        "/versions/active",
        "/versions/{v}",
        "/versions/{v}/evals",
        "/versions/{v}/diff",
        "/pointer/history",
        "/kpis",
        "/task",
        "/healthz",
        "/",
    } <= set(paths)
    listing = paths["/versions"]["get"]["responses"]
    assert "400" in listing and "422" not in listing and "304" in listing
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    detail = paths["/versions/{v}"]["get"]
    assert detail["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/VersionDetail"
    }
    assert detail["parameters"][0]["schema"]["pattern"].startswith("^v")


def test_with_a_token_the_page_loads_and_its_data_needs_the_token(built_home: Home) -> None:
    settings = built_home.settings.model_copy(update={"token": SecretStr("s3cret")})
    with TestClient(secured(create_app(settings), settings)) as guarded:
        assert guarded.get("/").status_code == 200  # HTML and scripts: no data in them
        assert guarded.get("/static/api.js").status_code == 200
        assert guarded.get("/versions").status_code == 401
        authorised = guarded.get("/versions", headers={"Authorization": "Bearer s3cret"})
        assert authorised.status_code == 200 and authorised.json()["versions"]
