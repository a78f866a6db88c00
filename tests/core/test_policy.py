"""The path policy, alone and where releases are made."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ratchet.errors import PolicyError
from ratchet.policy import TEST_CHANGES, FileChange, authorisations, check_change, check_paths
from ratchet.vcs import ReleaseKind, ReleaseMetadata, ReleaseStore, ensure_workspace
from tests.conftest import PROJECT_ROOT, git


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
        ("architect", "tests/golden/micro.json", True),  # the content rails guard it
        ("architect", "tasks/banking77/test.csv", False),
        ("architect", "ci/budgets.json", True),  # tighten-only: the content rails
        ("architect", "ci/budgets.json.bak", False),
        ("architect", "ci/run.sh", False),
        ("architect", "ratchet/ci/micro.py", False),
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


BUDGETS = (PROJECT_ROOT / "ci" / "budgets.json").read_bytes()


def budgets_with(change: Callable[[dict[str, Any]], None]) -> bytes:
    document = json.loads(BUDGETS)
    change(document)
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["budgets"].update(min_heldout_accuracy=0.5),
        lambda d: d["budgets"].update(max_p95_latency_ms=500),
        lambda d: d["tiers"]["full"].update(time_limit_s=10_000),
        lambda d: d.update(noise_margin=0.5),
        lambda d: d["budgets"].pop("max_error_rate"),
        lambda d: d["slos"]["error_rate"].update(objective=0.5),
        lambda d: d.update(schema_version=2),
    ],
)
def test_loosening_the_budgets_is_refused(change: Callable[[dict[str, Any]], None]) -> None:
    with pytest.raises(PolicyError, match=r"loosen ci/budgets\.json"):
        check_change("architect", [FileChange("ci/budgets.json", BUDGETS, budgets_with(change))])


def test_tightening_the_budgets_is_allowed() -> None:
    def tighten(d: dict[str, Any]) -> None:
        d["budgets"].update(min_heldout_accuracy=0.8, max_p95_latency_ms=40)
        d["budgets"]["min_new_gate"] = 0.1
        d["tiers"]["micro"]["time_limit_s"] = 20

    changes = [FileChange("ci/budgets.json", BUDGETS, budgets_with(tighten))]
    assert check_change("architect", changes) == []


def test_deleting_the_budgets_is_refused_even_when_authorised() -> None:
    with pytest.raises(PolicyError, match=r"delete ci/budgets\.json"):
        check_change(
            "architect",
            [FileChange("ci/budgets.json", BUDGETS, None)],
            authorised=[TEST_CHANGES],
        )


GOLDEN = (PROJECT_ROOT / "tests" / "golden" / "micro.json").read_bytes()


def golden_without_first() -> bytes:
    document = json.loads(GOLDEN)
    document["cases"] = document["cases"][1:]
    return json.dumps(document).encode()


def test_removing_a_golden_case_needs_the_feedbacks_authorisation() -> None:
    change = FileChange("tests/golden/micro.json", GOLDEN, golden_without_first())
    with pytest.raises(PolicyError, match="remove or alter golden case"):
        check_change("architect", [change])
    notes = check_change(
        "architect",
        [change],
        authorised=authorisations("the first case is mislabelled\nAuthorize: test-changes\n"),
    )
    assert notes and "authorised by the feedback" in notes[0]


def test_adding_golden_cases_and_tests_needs_no_authorisation() -> None:
    document = json.loads(GOLDEN)
    document["cases"].append({"text": "new", "intent": "age_limit"})
    changes = [
        FileChange("tests/golden/micro.json", GOLDEN, json.dumps(document).encode()),
        FileChange(
            "tests/services/runner/test_x.py",
            b"def test_a(): pass\n",
            b"def test_a(): pass\ndef test_b(): pass\n",
        ),
        FileChange("tests/services/runner/test_new.py", None, b"def test_c(): pass\n"),
    ]
    assert check_change("architect", changes) == []


def test_removing_a_test_is_refused() -> None:
    old = b"def test_a():\n    pass\n\nasync def test_b():\n    pass\n"
    with pytest.raises(PolicyError, match="remove test test_b"):
        check_change("architect", [FileChange("tests/t/test_x.py", old, b"def test_a(): ...\n")])
    with pytest.raises(PolicyError, match=r"delete tests/t/test_x\.py"):
        check_change("architect", [FileChange("tests/t/test_x.py", old, None)])


def test_authorisation_must_be_explicit() -> None:
    assert authorisations("please remove the broken golden case") == frozenset()
    assert authorisations("authorise: Test-Changes") == {TEST_CHANGES}


def test_a_release_loosening_the_budgets_is_refused_where_releases_are_made(
    tmp_path: Path, source_repo: Path
) -> None:
    workspace = tmp_path / "ws"
    (source_repo / "ci").mkdir()
    (source_repo / "ci" / "budgets.json").write_bytes(BUDGETS)
    git(source_repo, "add", "-A")
    git(source_repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "budgets")
    ensure_workspace(workspace, source_repo)
    releases = ReleaseStore(workspace, tmp_path / "release.lock")
    releases.release(ReleaseMetadata(kind=ReleaseKind.MINOR, author="human"), message="first")
    loose = budgets_with(lambda d: d["budgets"].update(max_error_rate=0.5))
    (workspace / "ci" / "budgets.json").write_bytes(loose)
    with pytest.raises(PolicyError, match="max_error_rate raised"):
        releases.release(
            ReleaseMetadata(kind=ReleaseKind.MINOR, author="architect"),
            message="x",
            paths=["ci/budgets.json"],
        )
    assert git(workspace, "tag", "-l") == "v0.1.0"
