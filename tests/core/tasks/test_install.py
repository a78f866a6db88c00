"""A new home serves the task it is asked for, from its first release on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from git import GitCommandError, Repo

from fleet.cli.doctor import check_heldout
from ratchet.bootstrap import initialize, release_store
from ratchet.builds import BuildStore
from ratchet.config import CommonSettings
from ratchet.errors import ConfigError
from ratchet.tasks import TaskError, active_task, load_task
from ratchet.tasks.heldout import heldout_examples, heldout_file
from ratchet.tasks.workspace import install_task
from ratchet.vcs import ensure_workspace, job_worktree
from tests.conftest import PROJECT_ROOT, git


def settings(home: Path, task: str | None) -> CommonSettings:
    return CommonSettings(home=home, project_root=PROJECT_ROOT, task=task)


@pytest.fixture(scope="module")
def hwu_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("hwu") / "home"
    report = initialize(settings(home, "hwu64"))
    assert any(step.startswith("installed task hwu64") for step in report.steps), report.steps
    return home


def test_the_first_release_serves_the_task_it_was_asked_for(hwu_home: Path) -> None:
    workspace = hwu_home / "workspace"
    task = active_task(workspace)
    assert task.name == "hwu64" and len(task.labels) == 64
    (first,) = release_store(settings(hwu_home, None)).releases()
    assert first.version == "v0.1.0" and first.metadata.task == "hwu64"
    state = json.loads((workspace / "state" / "active.state.json").read_text())["data"]
    assert state["agent"] == "hwu64-router"
    assert set(state["replies"]) == set(task.labels) and state["rules"] == []
    golden = json.loads((workspace / "tests" / "golden" / "micro.json").read_text())["cases"]
    assert 0 < len(golden) <= 40
    assert {case["intent"] for case in golden} <= set(task.labels)
    budgets = json.loads((workspace / "ci" / "budgets.json").read_text())["budgets"]
    # Floors from v0.1.0 on this task's dev (0.7791 on HWU64), not BANKING77's 0.77/0.78.
    assert (budgets["min_dev_accuracy"], budgets["min_heldout_accuracy"]) == (0.76, 0.73)
    train_texts = {e.text for e in task.examples("train")}
    assert all(case["text"] in train_texts for case in golden)  # drawn from train, not dev


def test_the_vault_holds_the_tasks_held_out_split(hwu_home: Path) -> None:
    """`init --task hwu64` keeps hwu64's test.csv under the home, not in the workspace."""
    kept = heldout_file(hwu_home / "heldout", "hwu64")
    assert kept.read_bytes() == (PROJECT_ROOT / "tasks" / "hwu64" / "test.csv").read_bytes()
    served = active_task(hwu_home / "workspace")
    assert served.test_rows is None  # the workspace's copy of the task has no test.csv
    expected = load_task(PROJECT_ROOT / "tasks" / "hwu64").test_rows
    assert expected is not None and len(expected) == 1076
    assert heldout_examples(served, hwu_home / "heldout") == expected
    assert check_heldout(settings(hwu_home, None)).ok


def held_out_objects(repository: Path) -> list[str]:
    """Paths of a task's test.csv that some object of ``repository`` (all refs, all
    history) holds (a test fixture's, under tests/, is no task's held-out split)."""
    listed = git(repository, "rev-list", "--all", "--objects").splitlines()
    paths = [line.partition(" ")[2] for line in listed]
    return [p for p in paths if p.startswith("tasks/") and p.endswith("test.csv")]


def test_no_tree_or_object_a_candidate_reaches_holds_a_held_out_split(hwu_home: Path) -> None:
    workspace = hwu_home / "workspace"
    assert not held_out_objects(workspace)
    assert not list(workspace.glob("tasks/*/test.csv"))
    assert git(workspace, "remote") == ""  # nothing points back at the project checkout
    with job_worktree(workspace, "v0.1.0", parent=hwu_home / "worktrees") as tree:
        assert (tree / "tasks" / "hwu64" / "train.csv").is_file()
        assert not list(tree.glob("tasks/*/test.csv"))
        with Repo(tree) as repo, pytest.raises(GitCommandError):
            repo.git.show("HEAD:tasks/hwu64/test.csv")
    build = BuildStore(workspace, hwu_home / "builds").ensure("v0.1.0")
    assert (build / "tasks" / "hwu64" / "train.csv").is_file()
    assert not list(build.glob("tasks/*/test.csv"))


def test_initialising_again_changes_nothing(hwu_home: Path) -> None:
    head = git(hwu_home / "workspace", "rev-parse", "HEAD")
    report = initialize(settings(hwu_home, "hwu64"))
    assert not report.steps
    assert git(hwu_home / "workspace", "rev-parse", "HEAD") == head


def test_a_home_refuses_to_switch_tasks(hwu_home: Path) -> None:
    with pytest.raises(ConfigError, match="serves task 'hwu64', not 'banking77'"):
        initialize(settings(hwu_home, "banking77"))


def test_the_default_home_serves_the_project_as_it_is(tmp_path: Path) -> None:
    home = tmp_path / "home"
    initialize(settings(home, None))
    workspace = home / "workspace"
    assert active_task(workspace).name == "banking77"
    for path in ("state/active.state.json", "tests/golden/micro.json", "ci/budgets.json"):
        assert (workspace / path).read_bytes() == (PROJECT_ROOT / path).read_bytes(), path
    (first,) = release_store(settings(home, None)).releases()
    assert first.metadata.task == "banking77"
    # The project's own task: its split comes from the project commit, never the workspace.
    assert not held_out_objects(workspace)
    kept = heldout_file(home / "heldout", "banking77")
    assert kept.read_bytes() == (PROJECT_ROOT / "tasks" / "banking77" / "test.csv").read_bytes()


def test_a_task_with_problems_stops_init_before_the_home_exists(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    shutil.copytree(PROJECT_ROOT / "tasks" / "hwu64", folder)
    with (folder / "test.csv").open("a", encoding="utf-8") as handle:
        handle.write("what is the weather on mars,weather_on_mars\n")
    home = tmp_path / "home"
    with pytest.raises(TaskError, match=r"test\.csv:1078: 'weather_on_mars': not a declared label"):
        initialize(settings(home, str(folder)))
    assert not home.exists()


def test_a_crash_between_the_task_commit_and_v0_1_0_is_repaired(tmp_path: Path) -> None:
    home = tmp_path / "home"
    workspace = home / "workspace"
    ensure_workspace(workspace, PROJECT_ROOT)
    install_task(workspace, load_task(PROJECT_ROOT / "tasks" / "hwu64"), home / "heldout")
    # ...then killed
    committed = git(workspace, "rev-parse", "HEAD")
    report = initialize(settings(home, "hwu64"))
    assert not any(step.startswith("installed task") for step in report.steps), report.steps
    (first,) = release_store(settings(home, None)).releases()
    assert first.commit == committed and first.metadata.task == "hwu64"
