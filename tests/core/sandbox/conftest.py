"""Fixtures for the sandbox's tests: a fresh probe per test, and a small candidate tree."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ratchet.sandbox import support
from ratchet.sandbox import volume as volumes


@pytest.fixture(autouse=True)
def fresh_probe() -> Iterator[None]:
    """Each test finds out anew what the machine gives (some change RATCHET_SANDBOX)."""
    support._probed.cache_clear()
    yield
    support._probed.cache_clear()


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[Path]:
    """A candidate's tree: a git repository (as a worktree's would be) with one file."""
    root = tmp_path / "tree"
    root.mkdir()
    (root / "module.py").write_text("VALUE = 1\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    yield root
    volumes.release(root)


requires_bwrap = pytest.mark.skipif(
    not support.probe("auto").available, reason="no working bubblewrap on this machine"
)
