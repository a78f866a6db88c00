"""The patch coder: a unified diff applied all-or-nothing, or a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.architect.coders import CoderError, CodingRequest, PatchCoder, check_diff
from tests.conftest import git

GOOD = """\
--- a/README.md
+++ b/README.md
@@ -1 +1 @@
-test project
+a better project
"""
HALF_GOOD = (
    GOOD
    + """\
--- a/missing.txt
+++ b/missing.txt
@@ -1 +1 @@
-nothing
+here
"""
)


def request(patch: str | None) -> CodingRequest:
    return CodingRequest("job1", "text", patch, base_version="v0.1.0")


def test_check_diff_names_the_paths_or_says_why_not() -> None:
    assert check_diff(GOOD) == ["README.md"]
    for bad, reason in [("", "empty"), ("hello\n", "malformed diff"), ("--- a/x\n", "malformed")]:
        with pytest.raises(ValueError, match=reason):
            check_diff(bad)


def test_a_diff_is_applied_in_the_worktree(source_repo: Path) -> None:
    proposal = PatchCoder().propose(request(GOOD), source_repo, 0)
    assert (source_repo / "README.md").read_text() == "a better project\n"
    assert "changed README.md" in proposal.log


def test_a_diff_that_partly_applies_changes_nothing(source_repo: Path) -> None:
    with pytest.raises(CoderError, match=r"does not apply to v0\.1\.0"):
        PatchCoder().propose(request(HALF_GOOD), source_repo, 0)
    assert git(source_repo, "status", "--porcelain") == ""


def test_feedback_without_a_diff_is_refused_with_a_reason(source_repo: Path) -> None:
    with pytest.raises(CoderError, match="needs a unified diff"):
        PatchCoder().propose(request(None), source_repo, 0)
