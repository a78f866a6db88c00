"""The workspace: a repository under the home folder holding the project's tree.

Releases are committed and tagged here, never in the developer's checkout.
The workspace starts as one commit of the project's HEAD tree *without* its
held-out splits, not as a clone: a candidate's worktree shares the
workspace's objects, so any object holding a held-out label (the project's
history holds them all) could be read with ``git show``. The root commit's
message names the project commit it was made from.
"""

from __future__ import annotations

import contextlib
import fnmatch
import io
import shutil
import tarfile
import tempfile
from pathlib import Path

from git import GitCommandError, Repo

import ratchet
from ratchet.errors import ConfigError
from ratchet.vcs.repo import BOT_EMAIL, BOT_NAME, is_repository, open_repo

# Never copied into a workspace: the held-out split of every task (the home keeps
# them apart, ratchet.tasks.heldout). A git pathspec: `*` stays within one folder.
WITHHELD = "tasks/*/test.csv"
SOURCE_TRAILER = "Project-Commit"


def default_project_root() -> Path:
    """The checkout this code runs from (an editable install), if it is one."""
    return Path(ratchet.__file__).resolve().parents[1]


# The State Manager's runtime files in state/ (its filesystem backend's root), excluded
# by the repository itself as well as by state/.gitignore: a workspace made before a
# file joined that .gitignore (the rollouts document did) would otherwise lose it to the
# `git clean` that undoes a failed release.
RUNTIME_FILES = (
    "/state/staging.state.json",
    "/state/pointer.json",
    "/state/rollouts.json",
    "/state/history/",
    "/state/snapshots/",
    "/state/.locks/",
)


def exclude_runtime_files(workspace: Path) -> None:
    """List :data:`RUNTIME_FILES` in the workspace's ``.git/info/exclude`` (idempotent)."""
    exclude = workspace / ".git" / "info" / "exclude"
    present = exclude.read_text().splitlines() if exclude.is_file() else []
    missing = [pattern for pattern in RUNTIME_FILES if pattern not in present]
    if missing:
        exclude.parent.mkdir(parents=True, exist_ok=True)
        with exclude.open("a") as out:
            out.write("".join(f"{pattern}\n" for pattern in missing))


def ensure_workspace(workspace: Path, source: Path | None = None) -> bool:
    """Make ``workspace`` from ``source``'s HEAD unless it already exists; True if created."""
    if is_repository(workspace):
        exclude_runtime_files(workspace)
        return False
    if workspace.exists() and any(p.is_file() for p in workspace.rglob("*")):
        raise ConfigError(
            f"{workspace} exists but is not a git repository; move it away and run `ratchet init`"
        )
    origin = (source or default_project_root()).resolve()
    if not is_repository(origin):
        raise ConfigError(
            f"cannot create the workspace: {origin} is not a git checkout; "
            "set RATCHET_PROJECT_ROOT to the project's clone"
        )
    workspace.parent.mkdir(parents=True, exist_ok=True)
    # Built aside and renamed into place: a crash never leaves a half-made workspace.
    staging = Path(tempfile.mkdtemp(prefix=f".{workspace.name}-", dir=workspace.parent))
    try:
        _build(staging, origin)
        if workspace.exists():  # empty folders only (a command run before `init` may make them)
            shutil.rmtree(workspace)
        staging.rename(workspace)
        exclude_runtime_files(workspace)
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(staging)
    return True


def _build(target: Path, origin: Path) -> None:
    """One root commit in ``target``: ``origin``'s HEAD tree less :data:`WITHHELD`.

    No remote and no tags: release tags are the workspace's own (a project's own
    ``vX.Y.Z`` tags would otherwise pass for Ratchet releases), and nothing in the
    workspace points back at the checkout that holds the held-out splits.
    """
    with open_repo(origin) as project:
        try:
            commit = project.head.commit.hexsha
        except ValueError:
            raise ConfigError(f"cannot create the workspace: {origin} has no commit") from None
        branch = "main" if project.head.is_detached else project.active_branch.name
        archive = project.git.archive(
            commit, "--", ".", f":(exclude,glob){WITHHELD}", format="tar", stdout_as_string=False
        )
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    repo = Repo.init(target, initial_branch=branch)
    try:
        with repo.config_writer() as config:
            config.set_value("user", "name", BOT_NAME)
            config.set_value("user", "email", BOT_EMAIL)
        repo.git.add("--all", "--force", "--", ".")
        message = (
            f"workspace from project commit {commit[:12]}\n\n"
            f"The project's tree at that commit ({origin}), without {WITHHELD}: "
            "held-out splits are kept in the home's heldout/ folder.\n\n"
            f"{SOURCE_TRAILER}: {commit}\n"
        )
        try:
            repo.git.commit("-q", "--allow-empty", "-m", message)
        except GitCommandError as exc:
            raise ConfigError(f"cannot create the workspace from {origin}: {exc}") from None
    finally:
        repo.close()


def withheld_in_history(workspace: Path) -> list[str]:
    """Paths matching :data:`WITHHELD` that some object of ``workspace`` holds, sorted.

    Empty for a workspace made by :func:`ensure_workspace`; a home made when the
    workspace was a clone of the project holds every held-out split it ever had.
    """
    with open_repo(workspace) as repo:
        listed = repo.git.rev_list("--all", "--objects")
    paths = {line.partition(" ")[2] for line in listed.splitlines()}
    # fnmatch's `*` also crosses `/`; the path's depth is checked apart.
    return sorted(
        p for p in paths if fnmatch.fnmatchcase(p, WITHHELD) and p.count("/") == WITHHELD.count("/")
    )


def project_commit(workspace: Path) -> str | None:
    """The project commit ``workspace`` was made from (its root commit's trailer), if named."""
    with open_repo(workspace) as repo:
        try:
            roots = repo.git.rev_list("--max-parents=0", "HEAD").split()
        except GitCommandError:
            return None
        for root in roots:
            for line in str(repo.commit(root).message).splitlines():
                key, _, value = line.partition(":")
                if key == SOURCE_TRAILER and value.strip():
                    return value.strip()
    return None
