"""Version store: semver, releases as annotated tags, the release lock, worktrees."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest

from ratchet.errors import ConfigError, ConflictError, NotFoundError
from ratchet.vcs import (
    ReleaseKind,
    ReleaseMetadata,
    ReleaseStore,
    Version,
    ensure_workspace,
    job_worktree,
    next_version,
)
from tests.conftest import git


@pytest.fixture
def workspace(tmp_path: Path, source_repo: Path) -> Path:
    path = tmp_path / "workspace"
    assert ensure_workspace(path, source_repo) is True
    return path


@pytest.fixture
def releases(workspace: Path, tmp_path: Path) -> ReleaseStore:
    return ReleaseStore(workspace, tmp_path / "locks" / "release.lock")


def meta(kind: ReleaseKind = ReleaseKind.PATCH, **extra: object) -> ReleaseMetadata:
    return ReleaseMetadata.model_validate({"kind": kind, "author": "tuner", **extra})


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("v0.1.0", True),
        ("v10.0.3", True),
        ("0.1.0", False),
        ("v01.0.0", False),
        ("v1.0", False),
        ("v1.0.0-rc1", False),
        ("", False),
    ],
)
def test_version_parsing(text: str, ok: bool) -> None:
    assert Version.is_valid(text) is ok
    if not ok:
        with pytest.raises(ValueError, match=r"vMAJOR\.MINOR\.PATCH"):
            Version.parse(text)


def test_bumps_and_the_first_release() -> None:
    v = Version.parse("v1.4.2")
    assert str(v.bump(ReleaseKind.PATCH)) == "v1.4.3"
    assert str(v.bump(ReleaseKind.MINOR)) == "v1.5.0"
    assert str(v.bump(ReleaseKind.MAJOR)) == "v2.0.0"
    assert str(next_version(None, ReleaseKind.PATCH)) == "v0.1.0"
    assert Version.parse("v0.10.0") > Version.parse("v0.9.9")  # numeric, not lexical


def test_workspace_is_made_from_the_source_never_the_source(
    workspace: Path, source_repo: Path
) -> None:
    """One root commit of the source's HEAD tree, naming it; no remote points back."""
    head = git(source_repo, "rev-parse", "HEAD")
    assert git(workspace, "remote") == ""
    assert git(workspace, "rev-list", "--count", "HEAD") == "1"
    assert head in git(workspace, "log", "-1", "--format=%B")
    tree = git(source_repo, "rev-parse", "HEAD^{tree}")
    assert git(workspace, "rev-parse", "HEAD^{tree}") == tree
    assert ensure_workspace(workspace, source_repo) is False  # idempotent


def test_a_non_repository_in_the_way_is_a_clear_error(tmp_path: Path, source_repo: Path) -> None:
    blocker = tmp_path / "ws"
    blocker.mkdir()
    (blocker / "junk").write_text("x")
    with pytest.raises(ConfigError, match="not a git repository"):
        ensure_workspace(blocker, source_repo)


def test_empty_folders_left_before_init_are_no_obstacle(tmp_path: Path, source_repo: Path) -> None:
    """Empty folders where the workspace goes (a command run before `init` may make
    them) are replaced by the clone."""
    workspace = tmp_path / "ws"
    (workspace / "state").mkdir(parents=True)
    assert ensure_workspace(workspace, source_repo) is True
    assert (workspace / ".git").exists() and (workspace / "README.md").exists()


def test_release_commits_and_tags_with_json_metadata(
    releases: ReleaseStore, workspace: Path, source_repo: Path
) -> None:
    first = releases.release(meta(ReleaseKind.MINOR, author="human"), message="first")
    assert first.version == "v0.1.0"
    (workspace / "state" / "active.state.json").write_text('{"revision": 1, "data": {}}\n')
    second = releases.release(
        meta(state_hash="sha256:abc", trace_id="t1", feedback_ids=["f1"]),
        message="tuned",
        paths=["state/active.state.json"],
    )
    assert second.version == "v0.1.1"
    assert second.commit != first.commit
    body = json.loads(git(workspace, "tag", "-l", "--format=%(contents)", "v0.1.1"))
    assert body["kind"] == "patch" and body["parent"] == "v0.1.0"
    assert body["feedback_ids"] == ["f1"] and body["trace_id"] == "t1"
    assert git(workspace, "cat-file", "-t", "v0.1.1") == "tag"  # annotated
    assert git(source_repo, "tag", "-l") == ""  # the source checkout is untouched
    listed = releases.releases()
    assert [r.version for r in listed] == ["v0.1.1", "v0.1.0"]
    assert releases.get("v0.1.1").metadata.state_hash == "sha256:abc"
    assert releases.next_version(ReleaseKind.MAJOR) == "v1.0.0"


def test_a_tag_collision_is_reported_not_overwritten(
    releases: ReleaseStore, workspace: Path
) -> None:
    first = releases.release(meta(), message="first")
    before = git(workspace, "rev-parse", "v0.1.0^{}")
    message_before = git(workspace, "tag", "-l", "--format=%(contents)", "v0.1.0")
    with pytest.raises(ConflictError, match="already exists"):
        releases.release(
            meta(author="architect"), message="again", version="v0.1.0", allow_empty=True
        )
    assert git(workspace, "rev-parse", "v0.1.0^{}") == before == first.commit
    assert git(workspace, "tag", "-l", "--format=%(contents)", "v0.1.0") == message_before


def test_a_release_killed_mid_way_does_not_wedge_or_leak_into_the_next(
    releases: ReleaseStore, workspace: Path
) -> None:
    releases.release(meta(ReleaseKind.MINOR, author="human"), message="first")
    # What SIGKILL during `git add`/`git commit` of an architect release leaves:
    (workspace / "services").mkdir(exist_ok=True)
    (workspace / "services" / "half.py").write_text("x = 1\n")
    git(workspace, "add", "services/half.py")
    (workspace / ".git" / "index.lock").write_text("")
    (workspace / "state" / "active.state.json").write_text('{"revision": 9, "data": {}}\n')
    (workspace / "state" / "active.state.json").write_text('{"revision": 2, "data": {}}\n')
    with releases.begin():
        assert not (workspace / ".git" / "index.lock").exists()
        assert git(workspace, "status", "--porcelain") == ""
        (workspace / "state" / "active.state.json").write_text('{"revision": 2, "data": {}}\n')
        patch = releases.release(meta(), message="tuned", paths=["state/active.state.json"])
    # The tuner's release carries its own file only: the half-made one was discarded.
    files = git(workspace, "show", "--name-only", "--format=", patch.commit).split()
    assert files == ["state/active.state.json"]


def test_lightweight_and_unparsable_tags_are_flagged(
    releases: ReleaseStore, workspace: Path
) -> None:
    releases.release(meta(), message="first")
    git(workspace, "tag", "v0.2.0")  # lightweight
    git(workspace, "tag", "-a", "v0.3.0", "-m", "not json")
    git(workspace, "tag", "-a", "vbad", "-m", "{}")
    scan = releases.scan()
    assert [r.version for r in scan.releases] == ["v0.1.0"]
    reasons = {t.name: t.reason for t in scan.invalid}
    assert "lightweight" in reasons["v0.2.0"]
    assert "not release metadata" in reasons["v0.3.0"]
    assert "vMAJOR" in reasons["vbad"]


def test_unknown_and_malformed_versions(releases: ReleaseStore) -> None:
    releases.release(meta(), message="first")
    with pytest.raises(NotFoundError):
        releases.get("v9.9.9")
    with pytest.raises(ValueError):
        releases.get("latest")


def _release_many(workspace: str, lock: str, count: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    store = ReleaseStore(Path(workspace), Path(lock))
    out.put([store.release(meta(), message="p", allow_empty=True).version for _ in range(count)])


@pytest.mark.slow
def test_the_release_lock_serialises_processes(
    releases: ReleaseStore, workspace: Path, tmp_path: Path
) -> None:
    releases.release(meta(ReleaseKind.MINOR), message="first")
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    lock = str(tmp_path / "locks" / "release.lock")
    procs = [
        context.Process(target=_release_many, args=(str(workspace), lock, 5, queue))
        for _ in range(4)
    ]
    for p in procs:
        p.start()
    made = [v for _ in procs for v in queue.get(timeout=120)]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert sorted(made, key=Version.parse) == [f"v0.1.{i}" for i in range(1, 21)]
    assert len(releases.releases()) == 21


def test_worktree_is_removed_even_on_error(releases: ReleaseStore, workspace: Path) -> None:
    releases.release(meta(), message="first")
    seen: list[Path] = []
    with pytest.raises(RuntimeError), job_worktree(workspace, "v0.1.0") as tree:
        seen.append(tree)
        assert (tree / "state" / "active.state.json").exists()
        raise RuntimeError("job failed")
    assert not seen[0].exists()
    assert git(workspace, "worktree", "list").count("\n") == 0  # only the main tree


def _git_children() -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        if ppid == os.getpid() and name.startswith("git"):
            found.append(name)
    return found


def test_no_git_processes_outlive_an_operation(releases: ReleaseStore, workspace: Path) -> None:
    for _ in range(10):
        releases.release(meta(), message="p", allow_empty=True)
        releases.scan()
        with job_worktree(workspace, "HEAD"):
            pass
    assert _git_children() == []


def test_an_untagged_release_commit_is_discarded_by_the_next_releaser(
    tmp_path: Path, source_repo: Path
) -> None:
    # What SIGKILL between a release's commit and its tag leaves on the branch.
    workspace = tmp_path / "ws"
    ensure_workspace(workspace, source_repo)
    releases = ReleaseStore(workspace, tmp_path / "release.lock")
    first = releases.release(meta(author="human"), message="first")
    (workspace / "README.md").write_text("never released\n")
    git(workspace, "commit", "-qam", "v0.2.0: a release killed before its tag")
    with releases.begin():
        assert git(workspace, "rev-parse", "HEAD") == first.commit
    assert (workspace / "README.md").read_text() == "test project\n"
    # A commit that is not a release commit is left alone.
    (workspace / "README.md").write_text("a human's commit\n")
    git(workspace, "-c", "user.email=h@h", "commit", "-qam", "docs")
    with releases.begin():
        assert git(workspace, "rev-parse", "HEAD") != first.commit
