"""A real workspace with real releases, built once per session and copied when a
test needs to change it.

History of the fixture home (what the tests rely on)::

    v0.1.0  minor  human      init (first release)             eval summary
    v0.1.1  patch  tuner      blend_weight 0.5 -> 0.6           -
    v0.1.2  patch  tuner      a rule appended                   -
    v0.2.0  minor  architect  code + knn_k, job-7, feedback     eval summary
    v0.2.1  patch  tuner      arms                              -
    v1.0.0  major  architect  code + temperature, job-9         eval summary (in tiers.full)
    v1.0.1  patch  tuner      blend_weight 0.7                  -
    then: rollback to v1.0.0 and pin (active v1.0.0, pinned)
    flagged: v9.9.9 (lightweight), v0.9.0 (message not JSON), vnext (not a version)
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ratchet.bootstrap import initialize, release_store
from ratchet.objects import open_object_store
from ratchet.promotion import release_state
from ratchet.state import StateDocument, StateManager, open_state_manager
from ratchet.state.revisioned import dumps
from ratchet.vcs import Release, ReleaseKind, ReleaseMetadata
from services.versions.app import create_app
from services.versions.settings import VersionsSettings
from tests.conftest import PROJECT_ROOT, git

BUDGETS = json.loads((PROJECT_ROOT / "ci" / "budgets.json").read_text())


@dataclass
class Home:
    settings: VersionsSettings
    commits: dict[str, str]  # version -> commit

    @property
    def workspace(self) -> Path:
        return self.settings.workspace_path


TASK = "tiny"  # the task the fixture home serves: neither built-in one
TASK_LABELS = ("greet", "order", "cancel")


def write_task(folder: Path) -> None:
    """A small valid intent task named TASK (40 training rows per label, dev carved)."""
    folder.mkdir(parents=True)
    (folder / "task.toml").write_text(
        f'name = "{TASK}"\nkind = "intent"\ndescription = "Three toy intents."\n'
        'source = "made up for the tests"\nlicence = "CC0"\n'
    )
    rows = {
        split: "text,label\n"
        + "".join(
            f"{label} message {split} {i},{label}\n" for label in TASK_LABELS for i in range(n)
        )
        for split, n in (("train", 40), ("test", 5))
    }
    (folder / "train.csv").write_text(rows["train"])
    (folder / "test.csv").write_text(rows["test"])


def make_source(path: Path) -> Path:
    """A tiny project: the state, the budgets, a README, a task; enough to release from."""
    (path / "state").mkdir(parents=True)
    write_task(path / "tasks" / TASK)
    (path / "tasks" / "active.json").write_text(json.dumps({"task": TASK}) + "\n")
    (path / "ci").mkdir()
    (path / "state" / ".gitignore").write_text((PROJECT_ROOT / "state" / ".gitignore").read_text())
    (path / "state" / "active.state.json").write_text(
        (PROJECT_ROOT / "state" / "active.state.json").read_text()
    )
    (path / "ci" / "budgets.json").write_text(json.dumps(BUDGETS, indent=2))
    (path / "README.md").write_text("test project\n")
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "initial")
    return path


def settings_for(home: Path) -> VersionsSettings:
    return VersionsSettings(home=home, port=0)


def tune(
    settings: VersionsSettings, change: Callable[[dict[str, Any]], None], *, reason: str
) -> Release:
    """A Tuner patch: the active state changed by ``change``, released and activated."""
    manager = open_state_manager(settings)
    active = manager.read_active()
    assert active is not None
    data = copy.deepcopy(active.document.data)
    change(data)
    document = StateDocument(revision=active.document.revision + 1, updated_by="tuner", data=data)
    return release_state(
        manager,
        release_store(settings),
        document,
        kind=ReleaseKind.PATCH,
        author="tuner",
        reason=reason,
        metadata={"feedback_applied": 3, "kpis": {"feedback": 3, "mean_reward": 0.67}},
    )


def architect(
    settings: VersionsSettings,
    kind: ReleaseKind,
    files: dict[str, str],
    change: Callable[[dict[str, Any]], None],
    *,
    reason: str,
    extra: dict[str, Any],
) -> Release:
    """An Architect release: code and state in one commit, tagged, activated."""
    manager = open_state_manager(settings)
    releases = release_store(settings)
    active = manager.read_active()
    assert active is not None
    data = copy.deepcopy(active.document.data)
    change(data)
    document = StateDocument(revision=active.document.revision, updated_by="architect", data=data)
    with releases.begin():
        for relative, text in files.items():
            target = settings.workspace_path / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        state = settings.workspace_path / "state" / "active.state.json"
        state.write_bytes(dumps(document.to_json()))  # as the State Manager writes it
        release = releases.release(
            ReleaseMetadata.model_validate(
                {
                    "kind": kind,
                    "author": "architect",
                    "reason": reason,
                    "state_hash": document.content_hash(),
                    **extra,
                }
            ),
            message=reason,
            paths=[*files, "state/active.state.json"],
        )
        manager.activate(
            release.version, document, actor="architect", reason=reason, commit=release.commit
        )
    return release


def write_summary(settings: VersionsSettings, commit: str, summary: dict[str, Any]) -> None:
    open_object_store(settings).put_once(
        f"evals/{commit}/summary.json", json.dumps(summary).encode()
    )


# What eval summaries record of the sandbox (ratchet.sandbox.SandboxSupport.to_json).
BWRAP: dict[str, Any] = {
    "kind": "bwrap",
    "mode": "auto",
    "version": "0.8.0",
    "process_limit": "cgroup",
    "memory_limit": "cgroup",
    "rules": ["no network (a network namespace of its own)"],
    "reason": "bubblewrap: namespaces, read-only mounts, no network",
}
UNCONFINED: dict[str, Any] = {
    "kind": "none",
    "mode": "auto",
    "version": None,
    "process_limit": "none",
    "memory_limit": "rlimit",
    "rules": [],
    "reason": "bubblewrap is not installed",
}


def build_home(root: Path) -> Home:
    settings = settings_for(root / "home")
    settings = settings.model_copy(update={"project_root": make_source(root / "source")})
    initialize(settings)
    manager: StateManager = open_state_manager(settings)
    commits = {"v0.1.0": _commit(manager)}

    def param(name: str, value: float) -> Callable[[dict[str, Any]], None]:
        return lambda data: data["params"][name].update(value=value)

    def add_rule(data: dict[str, Any]) -> None:
        data["rules"].append({"pattern": "lost card", "intent": "lost_or_stolen_card"})

    def arms(data: dict[str, Any]) -> None:
        data["strategy"]["arms"]["blend"] = {"alpha": 4.0, "beta": 2.0}

    steps: list[Callable[[], Release]] = [
        lambda: tune(settings, param("blend_weight", 0.6), reason="tuned blend_weight"),
        lambda: tune(settings, add_rule, reason="mined a rule"),
        lambda: architect(
            settings,
            ReleaseKind.MINOR,
            {"services/runner/agent/notes.py": '"""Notes."""\n'},
            param("knn_k", 12.0),
            reason="use 12 neighbours",
            extra={"job_id": "job-7", "feedback_ids": ["fb-1", "fb-2"]},
        ),
        lambda: tune(settings, arms, reason="arm posteriors"),
        lambda: architect(
            settings,
            ReleaseKind.MAJOR,
            {"services/runner/agent/notes.py": '"""Notes, v2."""\n\nVERSION = 2\n'},
            param("temperature", 0.1),
            reason="new route schema",
            extra={"job_id": "job-9", "tool_schema_hash": "sha256:abc"},
        ),
        lambda: tune(settings, param("blend_weight", 0.7), reason="tuned again"),
    ]
    for step in steps:
        release = step()
        commits[release.version] = release.commit
    manager.rollback(actor="human", reason="latency regression", to="v1.0.0")
    manager.pin(actor="human", reason="investigating")

    write_summary(
        settings,
        commits["v0.1.0"],
        {"heldout_accuracy": 0.804, "dev_accuracy": 0.81, "p95_latency_ms": 12.5, "error_rate": 0},
    )
    write_summary(
        settings,
        commits["v0.2.0"],
        {
            "heldout_accuracy": 0.83,
            "heldout_best_arm_accuracy": 0.832,
            "exploration_cost": 0.0015,
            "dev_accuracy": 0.84,
            "p95_latency_ms": 18.0,
            "error_rate": 0.002,
            "runner_peak_rss_mb": 412.5,
            "sandbox": UNCONFINED,
        },
    )
    write_summary(  # metrics under a tier only, plus fields the page shows as they are
        settings,
        commits["v1.0.0"],
        {
            "tiers": {
                "fast": {"dev_accuracy": 0.85},
                "full": {"heldout_accuracy": 0.861, "p95_latency_ms": 61.0, "error_rate": 0.004},
            },
            "notes": "latency over budget",
            "sandbox": BWRAP,
        },
    )
    workspace = settings.workspace_path
    git(workspace, "tag", "v9.9.9", commits["v0.1.0"])
    git(workspace, "tag", "-a", "v0.9.0", "-m", "not json", commits["v0.1.0"])
    git(workspace, "tag", "-a", "vnext", "-m", '{"kind": "minor", "author": "human"}')
    return Home(settings, commits)


def _commit(manager: StateManager) -> str:
    pointer = manager.pointer()
    assert pointer is not None and pointer.commit is not None
    return pointer.commit


@pytest.fixture(scope="session")
def built_home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    return build_home(tmp_path_factory.mktemp("versions"))


@pytest.fixture
def home(built_home: Home, tmp_path: Path) -> Home:
    """A private copy of the built home: change it freely."""
    target = tmp_path / "home"
    shutil.copytree(built_home.settings.home_path, target, symlinks=True)
    return Home(settings_for(target), dict(built_home.commits))


@pytest.fixture(scope="session")
def client(built_home: Home) -> Iterator[TestClient]:
    """A client of the app on the shared home: for tests that only read."""
    with TestClient(create_app(built_home.settings)) as test_client:
        yield test_client


def client_for(home: Home) -> TestClient:
    return TestClient(create_app(home.settings))
