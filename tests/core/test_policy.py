"""The path policy, alone and where releases are made."""

from __future__ import annotations

from pathlib import Path

import pytest

from ratchet.errors import PolicyError
from ratchet.policy import check_paths
from ratchet.vcs import ReleaseKind, ReleaseMetadata, ReleaseStore, ensure_workspace
from tests.conftest import git


@pytest.mark.parametrize(
    ("author", "path", "allowed"),
    [
        ("tuner", "state/active.state.json", True),
        ("tuner", "services/runner/agent/router.py", False),
        ("tuner", "ci/budgets.json", False),
        ("tuner", "state/../ratchet/config.py", False),
        ("architect", "services/runner/agent/router.py", True),
        ("architect", "tests/services/runner/test_new.py", True),
        ("architect", "ratchet/state/manager.py", False),
        ("architect", "tests/golden/micro.json", False),
        ("architect", "tests/datasets/banking77/test.csv", False),
        ("architect", "ci/budgets.json", False),
        ("human", "ratchet/state/manager.py", True),
    ],
)
def test_who_may_change_what(author: str, path: str, allowed: bool) -> None:
    if allowed:
        check_paths(author, [path])
    else:
        with pytest.raises(PolicyError, match="may not change"):
            check_paths(author, [path])


def test_an_unknown_author_is_refused() -> None:
    with pytest.raises(PolicyError, match="unknown author"):
        check_paths("intern", ["state/x"])


def test_a_tuner_release_touching_code_is_refused_and_nothing_is_staged(
    tmp_path: Path, source_repo: Path
) -> None:
    workspace = tmp_path / "ws"
    ensure_workspace(workspace, source_repo)
    releases = ReleaseStore(workspace, tmp_path / "release.lock")
    releases.release(ReleaseMetadata(kind=ReleaseKind.MINOR, author="human"), message="first")
    (workspace / "README.md").write_text("the tuner was here\n")
    (workspace / "state" / "active.state.json").write_text('{"revision": 1, "data": {}}\n')
    with pytest.raises(PolicyError, match=r"tuner may not change README\.md"):
        releases.release(
            ReleaseMetadata(kind=ReleaseKind.PATCH, author="tuner"),
            message="x",
            paths=["README.md", "state/active.state.json"],
        )
    assert git(workspace, "tag", "-l") == "v0.1.0"
    assert git(workspace, "diff", "--cached", "--name-only") == ""
