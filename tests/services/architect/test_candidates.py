"""Calibration's amendment of a candidate's commit (``amend_state``), on a real git tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from ratchet.state import ACTIVE_KEY
from services.architect.candidates import amend_state
from services.architect.stages import Rejected
from tests.conftest import git

BASE = b'{"arms": {"blend": {"alpha": 91.0}}}\n'  # priors a calibration already set


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, str]:
    """A base commit with a state and a candidate commit on it that edits only the priors."""
    git(tmp_path, "init", "-q")
    git(tmp_path, "config", "user.email", "t@t")
    git(tmp_path, "config", "user.name", "t")
    state = tmp_path / "state" / ACTIVE_KEY
    state.parent.mkdir()
    state.write_bytes(BASE)
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "base")
    base = git(tmp_path, "rev-parse", "HEAD")
    state.write_bytes(b'{"arms": {"blend": {"alpha": 500.0}}}\n')
    git(tmp_path, "commit", "-qam", "candidate: priors by hand")
    return tmp_path, base


def test_calibration_that_undoes_the_whole_change_rejects_the_candidate(
    tree: tuple[Path, str],
) -> None:
    path, base = tree
    candidate = git(path, "rev-parse", "HEAD")
    with pytest.raises(Rejected, match="after calibration the candidate changes nothing"):
        amend_state(path, BASE, base)
    assert git(path, "rev-parse", "HEAD") == candidate  # left as it was, clean
    assert git(path, "status", "--porcelain") == ""


def test_calibrated_priors_amend_the_candidate_commit(tree: tuple[Path, str]) -> None:
    path, base = tree
    calibrated = b'{"arms": {"blend": {"alpha": 88.0}}}\n'
    commit = amend_state(path, calibrated, base)
    assert commit == git(path, "rev-parse", "HEAD")
    assert git(path, "rev-parse", "HEAD~1") == base  # amended, not stacked
    assert git(path, "show", f"HEAD:state/{ACTIVE_KEY}") == calibrated.decode().strip()
    assert amend_state(path, calibrated, base) is None  # already so: nothing to amend
