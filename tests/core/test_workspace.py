"""The workspace holds no held-out split in any object, and builds extract none."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from fleet.cli.doctor import check_heldout
from ratchet.bootstrap import initialize
from ratchet.builds import BuildStore
from ratchet.config import CommonSettings
from ratchet.errors import ConfigError
from ratchet.vcs import ensure_workspace
from ratchet.vcs.workspace import project_commit, withheld_in_history
from tests.conftest import git
from tests.helpers.tasks import write_task

COMMIT = ("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm")


@pytest.fixture
def project(source_repo: Path) -> Path:
    """A project whose history holds two versions of a task's held-out split."""
    task = source_repo / "tasks" / "toy"
    task.mkdir(parents=True)
    (task / "train.csv").write_text("text,label\nhello,greet\n")
    (task / "test.csv").write_text("text,label\nhi,greet\n")
    git(source_repo, "add", "-A")
    git(source_repo, *COMMIT, "a task")
    (task / "test.csv").write_text("text,label\nhi there,greet\n")
    (source_repo / "notes.txt").write_text("committed\n")
    git(source_repo, "add", "-A")
    git(source_repo, *COMMIT, "a second held-out split")
    (source_repo / "notes.txt").write_text("not committed\n")
    return source_repo


def objects(repository: Path) -> list[str]:
    listed = git(repository, "rev-list", "--all", "--objects").splitlines()
    return [line.partition(" ")[2] for line in listed]


def test_no_object_of_the_workspace_holds_a_held_out_split(tmp_path: Path, project: Path) -> None:
    workspace = tmp_path / "workspace"
    assert ensure_workspace(workspace, project) is True
    assert "tasks/toy/train.csv" in objects(workspace)
    assert not [p for p in objects(workspace) if p.endswith("test.csv")]
    assert not (workspace / "tasks" / "toy" / "test.csv").exists()
    assert withheld_in_history(workspace) == []
    assert (workspace / "notes.txt").read_text() == "committed\n"  # HEAD's tree, not the disk
    assert project_commit(workspace) == git(project, "rev-parse", "HEAD")
    assert git(workspace, "status", "--porcelain") == ""
    with pytest.raises(subprocess.CalledProcessError):
        git(workspace, "show", "HEAD:tasks/toy/test.csv")
    assert not list(tmp_path.glob(".workspace-*"))  # built aside, renamed into place


def test_a_source_that_is_no_checkout_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    with pytest.raises(ConfigError, match="is not a git checkout"):
        ensure_workspace(tmp_path / "workspace", tmp_path / "plain")
    assert not (tmp_path / "workspace").exists()


@pytest.fixture
def cloned_home(tmp_path: Path, project: Path) -> CommonSettings:
    """A home made before the vault: its workspace a full clone of the project."""
    settings = CommonSettings(home=tmp_path / "home", project_root=project)
    git(tmp_path, "clone", "-q", "--no-tags", str(project), str(settings.workspace_path))
    return settings


def test_builds_never_extract_a_held_out_split(cloned_home: CommonSettings) -> None:
    builds = BuildStore(cloned_home.workspace_path, cloned_home.home_path / "builds")
    build = builds.ensure("HEAD")
    assert (build / "tasks" / "toy" / "train.csv").is_file()
    assert not (build / "tasks" / "toy" / "test.csv").exists()
    # A build extracted before the split was withheld loses its copy when next used.
    (build / "tasks" / "toy" / "test.csv").write_text("text,label\nhi,greet\n")
    assert builds.ensure("HEAD") == build and not (build / "tasks" / "toy" / "test.csv").exists()


def test_doctor_names_a_workspace_whose_history_holds_held_out_splits(
    cloned_home: CommonSettings, tmp_path: Path
) -> None:
    check = check_heldout(cloned_home)
    assert not check.ok and "tasks/toy/test.csv" in check.detail
    assert "new RATCHET_HOME" in check.fix
    fresh = CommonSettings(home=tmp_path / "fresh", project_root=cloned_home.project_root)
    ensure_workspace(fresh.workspace_path, fresh.project_root)
    assert check_heldout(fresh).ok


def test_a_home_made_from_a_tree_without_a_held_out_split_says_so(
    tmp_path: Path, source_repo: Path
) -> None:
    """A candidate's tests make homes from its tree, which holds no held-out split."""
    (write_task(source_repo / "tasks" / "tiny") / "test.csv").unlink()
    (source_repo / "tasks" / "active.json").write_text('{"task": "tiny"}\n')
    git(source_repo, "add", "-A")
    git(source_repo, *COMMIT, "a task without its held-out split")
    settings = CommonSettings(home=tmp_path / "home", project_root=source_repo)
    steps = initialize(settings).steps
    assert any("task tiny has no held-out split" in step for step in steps), steps
    assert not (settings.heldout_path / "tiny").exists()


def test_state_runtime_files_survive_a_clean_even_when_the_tree_does_not_ignore_them(
    tmp_path: Path, source_repo: Path
) -> None:
    (source_repo / "state" / ".gitignore").write_text("history/\n")  # an older project's
    git(source_repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "old")
    workspace = tmp_path / "workspace"
    assert ensure_workspace(workspace, source_repo)
    (workspace / "state" / "rollouts.json").write_text('{"revision": 0, "rollouts": []}\n')
    (workspace / "stray.txt").write_text("untracked\n")
    git(workspace, "clean", "-fdq")  # what undoing a failed release does
    assert (workspace / "state" / "rollouts.json").is_file()
    assert not (workspace / "stray.txt").exists()
    assert not ensure_workspace(workspace, source_repo)  # again: the exclusions stay once
    excluded = (workspace / ".git" / "info" / "exclude").read_text().splitlines()
    assert excluded.count("/state/rollouts.json") == 1
