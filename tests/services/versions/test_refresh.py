"""The index is a cache of git tags and the object store: refreshed when a tag
appears, rebuilt from scratch by any new process, never stale after a change."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ratchet.objects import open_object_store
from ratchet.state import open_state_manager
from services.versions import refs
from services.versions.app import create_app
from services.versions.registry import VersionRegistry
from tests.conftest import git
from tests.services.versions.conftest import Home, client_for, settings_for, tune, write_summary


@pytest.fixture
def registry(home: Home) -> VersionRegistry:
    return VersionRegistry.from_settings(home.settings)


def annotated(workspace: Path, name: str, commit: str, **meta: object) -> None:
    body = json.dumps({"kind": "patch", "author": "human", "reason": "by hand", **meta})
    git(workspace, "tag", "-a", name, "-m", body, commit)


def test_a_steady_state_spawns_no_git(
    registry: VersionRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(refs, "RACY_WINDOW_NS", 0)
    first = registry.index()
    for _ in range(5):
        assert registry.index() is first
    assert registry.rebuilds == 1


def test_a_new_tag_is_listed_by_the_next_request(
    home: Home, registry: VersionRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(refs, "RACY_WINDOW_NS", 0)
    assert "v1.0.2" not in registry.index().by_version
    annotated(home.workspace, "v1.0.2", home.commits["v1.0.1"], parent="v1.0.1")
    index = registry.index()
    assert index.releases[0].version == "v1.0.2" and registry.rebuilds == 2


def test_a_tag_written_in_the_same_clock_tick_is_still_seen(
    home: Home, registry: VersionRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Coarse file-system clocks: a ref written right after a scan may leave the
    folder's mtime unchanged. A stamp that recent is not trusted (racy git)."""
    monkeypatch.setattr(refs, "RACY_WINDOW_NS", 600 * 10**9)  # a slow machine stays inside it
    tags = home.workspace / ".git" / "refs" / "tags"
    annotated(home.workspace, "v1.0.2", home.commits["v1.0.1"])
    assert "v1.0.2" in registry.index().by_version  # scanned in the tick of that write
    before = tags.stat()
    annotated(home.workspace, "v1.0.3", home.commits["v1.0.1"])
    os.utime(tags, ns=(before.st_atime_ns, before.st_mtime_ns))  # the clock did not tick
    assert "v1.0.3" in registry.index().by_version


def test_racy_stamps_are_rescanned_until_they_age(
    registry: VersionRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(refs, "RACY_WINDOW_NS", 3600 * 10**9)
    registry.index()
    registry.index()
    assert registry.rebuilds == 2
    monkeypatch.setattr(refs, "RACY_WINDOW_NS", 0)  # the stamp has aged: trusted now
    registry.index()
    registry.index()
    assert registry.rebuilds == 2


def test_packed_and_deleted_tags(
    home: Home, registry: VersionRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(refs, "RACY_WINDOW_NS", 0)
    listed = [r.version for r in registry.index().releases]
    git(home.workspace, "pack-refs", "--all")
    assert [r.version for r in registry.index().releases] == listed
    git(home.workspace, "tag", "-d", "v1.0.1")
    assert "v1.0.1" not in registry.index().by_version
    git(home.workspace, "tag", "-d", "v9.9.9")
    assert "v9.9.9" not in registry.index().flagged


def test_a_release_moves_the_listing_active_and_etags(home: Home) -> None:
    client = client_for(home)
    listing = client.get("/versions")
    manager = open_state_manager(home.settings)
    manager.unpin(actor="human", reason="done")
    release = tune(home.settings, lambda d: d["params"]["knn_k"].update(value=20.0), reason="k")
    assert release.version == "v1.0.2"
    again = client.get("/versions", headers={"If-None-Match": listing.headers["etag"]})
    assert again.status_code == 200
    assert again.json()["versions"][0]["version"] == "v1.0.2"
    assert again.json()["active"] == "v1.0.2"
    assert client.get("/versions/active").json()["version"] == "v1.0.2"
    moves = client.get("/pointer/history").json()["moves"]
    assert [(m["action"], m["version"]) for m in moves[:2]] == [
        ("activate", "v1.0.2"),
        ("unpin", "v1.0.0"),
    ]


def test_a_summary_written_after_the_release_shows_up(home: Home) -> None:
    client = client_for(home)
    assert client.get("/versions/v0.1.1/evals").status_code == 404
    assert [p["version"] for p in client.get("/kpis").json()["points"]] == [
        "v0.1.0",
        "v0.2.0",
        "v1.0.0",
    ]
    write_summary(home.settings, home.commits["v0.1.1"], {"heldout_accuracy": 0.81})
    assert client.get("/versions/v0.1.1/evals").json()["kpis"]["heldout_accuracy"] == 0.81
    # The chart's bulk view lists evals/ again once the refresh interval passed.
    settings = home.settings.model_copy(update={"evals_refresh_interval": 1e-6})
    fresh = client_for(Home(settings, home.commits))
    points = [p["version"] for p in fresh.get("/kpis").json()["points"]]
    assert points == ["v0.1.0", "v0.1.1", "v0.2.0", "v1.0.0"]


def test_a_release_with_its_own_eval_key(home: Home) -> None:
    key = "evals/custom/run-1.json"
    annotated(home.workspace, "v1.0.2", home.commits["v1.0.1"], eval_key=key)
    client = client_for(home)
    assert client.get("/versions/v1.0.2").json()["eval_key"] == key
    write_summary_at(home, key, {"error_rate": 0.5})
    assert client.get("/versions/v1.0.2/evals").json()["kpis"]["error_rate"] == 0.5


def write_summary_at(home: Home, key: str, summary: dict[str, object]) -> None:
    open_object_store(home.settings).put_once(key, json.dumps(summary).encode())


def test_a_corrupt_summary_is_a_clear_error_not_a_traceback(home: Home) -> None:
    write_summary_at(home, f"evals/{home.commits['v0.1.1']}/summary.json", {"x": 1})
    bad = f"evals/{home.commits['v0.1.2']}/summary.json"
    open_object_store(home.settings).put_once(bad, b"[1, 2")
    response = client_for(home).get("/versions/v0.1.2/evals")
    assert response.status_code == 500
    assert "is not valid JSON" in response.json()["detail"]


def test_the_cache_is_rebuilt_by_a_new_process(home: Home) -> None:
    first = client_for(home)
    paths = ["/versions", "/versions/v0.2.0", "/kpis", "/pointer/history", "/versions/active"]
    answers = {path: first.get(path).json() for path in paths}
    second = client_for(home)  # nothing shared: a fresh registry from git and the stores
    assert {path: second.get(path).json() for path in paths} == answers


def test_no_workspace_is_503_with_what_to_do_and_creates_nothing(tmp_path: Path) -> None:
    """The Versions API writes nothing: before `ratchet init` it opens no store (which
    would create folders in the home), answers 503 saying what to do, and the home is
    not created."""
    home = tmp_path / "empty"
    client = TestClient(create_app(settings_for(home)))
    for path in ("/versions", "/versions/active", "/versions/v0.1.0", "/pointer/history", "/kpis"):
        response = client.get(path)
        assert response.status_code == 503
        assert "ratchet init" in response.json()["detail"]
    assert client.get("/healthz").status_code == 200
    assert client.get("/").status_code == 200
    assert not home.exists()
