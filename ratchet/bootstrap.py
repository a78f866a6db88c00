"""First start: the home folder, the workspace, the held-out vault, the first release v0.1.0.

Idempotent: each step checks before it acts, so ``ratchet init`` and
``ratchet up`` can run it on every start, and it also repairs what a crash
left half-done (a tag without a pointer, a stale ``active.state.json``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from git import GitCommandError

from ratchet.atomic import sweep_temp_files
from ratchet.builds import BuildStore
from ratchet.config import CommonSettings
from ratchet.errors import ConfigError, NotFoundError
from ratchet.state import ACTIVE_KEY, StateDocument, StateManager, open_state_manager
from ratchet.tasks import TASKS_DIR, Task, active_name, find_task, load_task
from ratchet.tasks.heldout import heldout_file, record_rows, store_heldout_bytes
from ratchet.tasks.manifest import TEST
from ratchet.tasks.workspace import install_task
from ratchet.vcs import FIRST, ReleaseKind, ReleaseMetadata, ReleaseStore, ensure_workspace
from ratchet.vcs.repo import open_repo
from ratchet.vcs.workspace import default_project_root, project_commit


@dataclass
class InitReport:
    home: Path
    workspace: Path
    steps: list[str] = field(default_factory=list)
    active_version: str | None = None


def release_store(settings: CommonSettings) -> ReleaseStore:
    """The home's version store: each release's build is published too on a shared
    backend, and the release lock is shared by every machine on the same
    ``RATCHET_DATABASE_URL`` (see :mod:`ratchet.db.locks`)."""
    builds = BuildStore.open(settings)
    return ReleaseStore(
        settings.workspace_path,
        settings.locks_path / "release.lock",
        publish=builds.publish if builds.shared is not None else None,
        database_url=settings.database,
    )


def requested_task(settings: CommonSettings) -> Task | None:
    """The task ``RATCHET_TASK`` names, checked (TaskError before anything is created)."""
    if settings.task is None:
        return None
    folder = find_task(settings.task, settings.project_root or default_project_root())
    return load_task(folder, require_test=True)


def initialize(settings: CommonSettings) -> InitReport:
    task = requested_task(settings)
    report = InitReport(settings.home_path, settings.workspace_path)
    for path in (settings.home_path, settings.data_path, settings.locks_path, settings.logs_path):
        path.mkdir(parents=True, exist_ok=True)
    if settings.backend == "filesystem":
        settings.objects_path.mkdir(parents=True, exist_ok=True)
    if ensure_workspace(settings.workspace_path, settings.project_root):
        report.steps.append(f"created the workspace at {settings.workspace_path}")
    swept = sweep_temp_files(settings.workspace_path / "state")
    if swept:
        report.steps.append(f"removed {swept} temp files left by interrupted writes")

    manager = open_state_manager(settings)
    releases = release_store(settings)
    with releases.lock():
        first = releases.latest()
        if first is None:
            if task is not None:
                report.steps.extend(
                    install_task(settings.workspace_path, task, settings.heldout_path)
                )
            first = releases.release(
                ReleaseMetadata(
                    kind=ReleaseKind.MINOR,
                    author="human",
                    state_hash=_committed_state(settings.workspace_path).content_hash(),
                    reason="first release of the workspace",
                ),
                message="first release",
                version=FIRST,
            )
            report.steps.append(f"released {first.version} at {first.commit[:12]}")
        elif task is not None and task.name != active_name(settings.workspace_path):
            raise ConfigError(
                f"{settings.home_path} serves task {active_name(settings.workspace_path)!r}, "
                f"not {task.name!r}: a home serves one task; use a new RATCHET_HOME for it"
            )
        if manager.pointer() is None:
            document = state_at(settings.workspace_path, first.commit)
            manager.activate(
                first.version, document, actor="init", reason="first start", commit=first.commit
            )
            report.steps.append(f"moved the active pointer to {first.version}")
    report.steps.extend(manager.repair())
    report.steps.extend(keep_heldout(settings))
    report.steps.extend(publish_active(settings, manager))
    pointer = manager.pointer()
    report.active_version = pointer.version if pointer else None
    return report


def publish_active(settings: CommonSettings, manager: StateManager) -> list[str]:
    """Publish the active release's build if this home made it and it is not shared yet.

    Releases publish their build before they are tagged; this covers one made
    before its home moved to a shared backend (other homes could not serve it).
    """
    builds = BuildStore.open(settings)
    pointer = manager.pointer()
    if builds.shared is None or pointer is None or pointer.commit is None:
        return []
    try:
        published = builds.publish(pointer.commit)
    except NotFoundError:
        return []  # another home's release: that home publishes it
    return [f"published the build of {pointer.version} for other homes"] if published else []


def keep_heldout(settings: CommonSettings) -> list[str]:
    """Store the active task's held-out split in the home's vault if it is not there.

    A task brought with ``--task`` was stored by :func:`install_task`; the
    project's own task comes from the project commit the workspace was made
    from. A home made before the vault existed still has ``test.csv`` in its
    workspace, so that copy is kept (``ratchet doctor`` says to make a new home).
    A project without the split (a candidate's tree) makes a home without one.
    """
    try:
        name = active_name(settings.workspace_path)
    except NotFoundError:
        return []  # a project without tasks: nothing is held out
    if heldout_file(settings.heldout_path, name).is_file():
        if record_rows(settings.heldout_path, name):
            return [f"recorded the row count of task {name}'s held-out split"]
        return []
    path = f"{TASKS_DIR.as_posix()}/{name}/{TEST}"
    commit = project_commit(settings.workspace_path)
    project = (settings.project_root or default_project_root()).resolve()
    for root, revision in ((settings.workspace_path, "HEAD"), (project, commit)):
        if revision is None:
            continue
        try:
            with open_repo(root) as repo:
                data = repo.git.cat_file(
                    "blob",
                    f"{revision}:{path}",
                    stdout_as_string=False,
                    strip_newline_in_stdout=False,  # the split's bytes, byte for byte
                )
        except (GitCommandError, NotFoundError):
            continue
        store_heldout_bytes(settings.heldout_path, name, data, f"{root}@{revision}:{path}")
        return [f"stored task {name}'s held-out split in {settings.heldout_path / name}"]
    # A project tree without one (a candidate's tree runs its tests in homes of its
    # own): the home serves, and its full tier says the split is missing.
    return [
        f"task {name} has no held-out split in {project} (at {commit or 'HEAD'}): "
        "the full tier cannot run in this home"
    ]


def _committed_state(workspace: Path) -> StateDocument:
    path = workspace / "state" / ACTIVE_KEY
    if not path.exists():
        return StateDocument()
    return StateDocument.from_file_bytes(str(path), path.read_bytes())


def state_at(workspace: Path, commit: str) -> StateDocument:
    """The active state as committed at ``commit`` (an empty document if none was)."""
    with open_repo(workspace) as repo:
        try:
            raw = repo.git.show(f"{commit}:state/{ACTIVE_KEY}")
        except GitCommandError:  # nothing committed there yet
            return StateDocument()
    return StateDocument.from_file_bytes(f"{commit}:state/{ACTIVE_KEY}", raw.encode())


def open_manager(settings: CommonSettings) -> StateManager:
    """The State Manager of an initialised home (NotFoundError otherwise)."""
    manager = open_state_manager(settings)
    if manager.pointer() is None:
        raise NotFoundError(f"{settings.home_path} has no active version; run `ratchet init`")
    return manager
