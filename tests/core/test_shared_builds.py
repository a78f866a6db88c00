"""A release's build reaches homes that lack its commit: published once by commit,
fetched and checked against the commit id, a tampered archive refused."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest

from ratchet.bootstrap import initialize, release_store
from ratchet.build_archive import archive_key, pack, verify
from ratchet.builds import BuildStore
from ratchet.config import CommonSettings
from ratchet.errors import ConfigError, ConflictError, CorruptDocumentError, NotFoundError
from ratchet.objects import ObjectStore, open_object_store
from ratchet.promotion import release_state
from ratchet.state import open_state_manager
from ratchet.vcs import ReleaseKind
from tests.conftest import git
from tests.helpers.releases import release_file

COMMIT = ("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm")


@pytest.fixture
def project(source_repo: Path) -> Path:
    """A checkout with code in a folder, an executable, a link and a held-out split."""
    (source_repo / "app").mkdir()
    (source_repo / "app" / "code.py").write_text("ANSWER = 1\n")
    (source_repo / "run.sh").write_text("#!/bin/sh\n")
    (source_repo / "run.sh").chmod(0o755)
    (source_repo / "link").symlink_to("app/code.py")
    (source_repo / "tasks" / "toy").mkdir(parents=True)
    (source_repo / "tasks" / "toy" / "test.csv").write_text("text,label\nhi,greet\n")
    git(source_repo, "add", "-A")
    git(source_repo, *COMMIT, "code")
    return source_repo


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD")


def test_a_build_is_fetched_where_the_commit_is_missing(
    project: Path, store: ObjectStore, tmp_path: Path
) -> None:
    commit = head(project)
    assert BuildStore(project, tmp_path / "a", store).publish(commit) is True
    # A home with no workspace at all: serving needs only the shared stores.
    elsewhere = BuildStore(tmp_path / "no-workspace", tmp_path / "b", store)

    build = elsewhere.ensure(commit)

    assert (build / "app" / "code.py").read_text() == "ANSWER = 1\n"
    assert (build / "run.sh").stat().st_mode & 0o100
    assert (build / "link").readlink() == Path("app/code.py")
    assert not (build / "tasks" / "toy" / "test.csv").exists()  # held out, not shipped
    assert not (build / ".ratchet").exists()
    paths = ("app", "run.sh", "absent")
    local = BuildStore(project, tmp_path / "a")
    assert elsewhere.code_key(commit, paths) == local.code_key(commit, paths)  # git's own ids
    assert elsewhere.ensure(commit) == build  # fetched once


def test_a_second_publication_of_a_commit_is_a_no_op(
    project: Path, store: ObjectStore, tmp_path: Path
) -> None:
    commit = head(project)
    builds = BuildStore(project, tmp_path / "builds", store)
    assert builds.publish(commit) is True
    etag = store.etag(archive_key(commit))
    assert builds.publish(commit) is False
    assert BuildStore(project, tmp_path / "other", store).publish(commit) is False
    assert store.etag(archive_key(commit)) == etag
    with pytest.raises(ConflictError):  # the key is write-once
        store.put(archive_key(commit), b"other", if_none_match=True)


def _tampered(data: bytes) -> bytes:
    """The archive with one file's content changed, everything else kept."""
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as source,
        tarfile.open(fileobj=out, mode="w") as tar,
    ):
        for member in source.getmembers():
            body = source.extractfile(member) if member.isfile() else None
            content = body.read() if body is not None else b""
            if member.name == "app/code.py":
                content = b"ANSWER = 2\n"
                member.size = len(content)
            tar.addfile(member, io.BytesIO(content) if member.isfile() else None)
    return gzip.compress(out.getvalue())


@pytest.mark.parametrize("damage", ["tampered", "truncated", "another commit"])
def test_a_corrupted_archive_is_refused(
    project: Path, tmp_path: Path, store: ObjectStore, damage: str
) -> None:
    first = git(project, "rev-parse", "HEAD~1")
    commit = head(project)
    data = pack(project, commit)
    bad = {
        "tampered": lambda: _tampered(data),
        "truncated": lambda: data[: len(data) // 2],
        "another commit": lambda: pack(project, first),
    }[damage]()
    store.put(archive_key(commit), bad)
    builds = BuildStore(tmp_path / "empty", tmp_path / "builds", store)
    git(tmp_path, "init", "-q", str(tmp_path / "empty"))
    with pytest.raises(CorruptDocumentError):
        builds.ensure(commit)
    assert not (tmp_path / "builds" / commit).exists()
    assert verify(data, commit)["app/code.py"] == git(project, "rev-parse", f"{commit}:app/code.py")


@pytest.mark.parametrize("damage", ["truncated", "another commit"])
def test_a_home_with_the_commit_replaces_a_corrupted_archive(
    project: Path, tmp_path: Path, store: ObjectStore, damage: str
) -> None:
    """Write-once would keep a damaged archive refused by every home for ever: the
    home that has the commit checks what is there and replaces it, and only that
    object (a publisher that raced it and won is not overwritten)."""
    commit = head(project)
    data = pack(project, commit)
    first = git(project, "rev-parse", "HEAD~1")
    bad = data[: len(data) // 2] if damage == "truncated" else pack(project, first)
    store.put(archive_key(commit), bad)
    elsewhere = BuildStore(tmp_path / "no-workspace", tmp_path / "b", store)
    with pytest.raises(CorruptDocumentError):
        elsewhere.ensure(commit)

    assert BuildStore(project, tmp_path / "a", store).publish(commit) is True

    assert (elsewhere.ensure(commit) / "app" / "code.py").read_text() == "ANSWER = 1\n"
    assert BuildStore(project, tmp_path / "a", store).publish(commit) is False  # sound now


def test_a_repair_loses_to_a_publisher_that_replaced_the_archive_first(
    project: Path, tmp_path: Path, store: ObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit = head(project)
    store.put(archive_key(commit), b"not an archive")
    # The other publisher's archive: sound, and told apart from ours by its compression.
    theirs = gzip.compress(gzip.decompress(pack(project, commit)), compresslevel=1)
    real_pack = pack

    def pack_while_another_repairs(workspace: Path, full: str) -> bytes:
        store.put(archive_key(full), theirs)  # their write lands first
        return real_pack(workspace, full)

    monkeypatch.setattr("ratchet.builds.pack", pack_while_another_repairs)
    assert BuildStore(project, tmp_path / "a", store).publish(commit) is False
    assert store.get(archive_key(commit)).data == theirs
    assert verify(theirs, commit)


def test_a_missing_build_is_not_found(project: Path, store: ObjectStore, tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", str(tmp_path / "empty"))
    builds = BuildStore(tmp_path / "empty", tmp_path / "builds", store)
    with pytest.raises(NotFoundError, match="publishes it"):
        builds.ensure(head(project))
    with pytest.raises(NotFoundError):  # no code to compare: never taken for the same code
        builds.code_key(head(project), ("app",))


def _home_b(s3_settings: CommonSettings, tmp_path: Path) -> CommonSettings:
    return s3_settings.model_copy(update={"home": tmp_path / "home-b"})


def test_releases_publish_and_another_home_serves_them(
    s3_settings: CommonSettings, tmp_path: Path
) -> None:
    initialize(s3_settings)
    other = _home_b(s3_settings, tmp_path)
    initialize(other)  # shares the pointer: serves home A's release
    release = release_file(s3_settings, "feature.txt", "made in A\n", "a feature")
    active = open_state_manager(s3_settings).read_active()
    assert active is not None
    assert open_object_store(s3_settings).exists(archive_key(release.commit))

    pointer = open_state_manager(other).pointer()
    assert pointer is not None and pointer.commit == release.commit
    build = BuildStore.open(other).ensure(pointer.commit)
    assert (build / "feature.txt").read_text() == "made in A\n"

    # Home B cannot release over a release it lacks: it would drop home A's change.
    other_manager = open_state_manager(other)
    with pytest.raises(ConflictError, match="made in another home"):
        release_state(
            other_manager,
            release_store(other),
            active.document,
            kind=ReleaseKind.PATCH,
            author="tuner",
            reason="tuned",
        )


def test_start_publishes_an_active_release_made_before_the_store_was_shared(
    s3_settings: CommonSettings,
) -> None:
    initialize(s3_settings)  # its first release published its build
    pointer = open_state_manager(s3_settings).pointer()
    assert pointer is not None and pointer.commit is not None
    store = open_object_store(s3_settings)
    assert store.exists(archive_key(pointer.commit))
    store.delete(archive_key(pointer.commit))  # as if released on the filesystem backend

    steps = initialize(s3_settings).steps

    assert "published the build of v0.1.0 for other homes" in steps
    assert store.exists(archive_key(pointer.commit))
    assert "published the build of v0.1.0 for other homes" not in initialize(s3_settings).steps


def test_a_tree_git_archive_would_alter_is_never_published(
    project: Path, store: ObjectStore, tmp_path: Path
) -> None:
    (project / ".gitattributes").write_text("run.sh export-ignore\n")
    git(project, "add", "-A")
    git(project, *COMMIT, "leave run.sh out of archives")
    with pytest.raises(ConfigError, match="export-ignore"):
        BuildStore(project, tmp_path / "builds", store).publish(head(project))
    assert not store.exists(archive_key(head(project)))
