"""The project's committed HEAD as a plain directory: what a candidate's worktree holds."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

from tests.conftest import PROJECT_ROOT


def head_tree(root: Path) -> Path:
    """Extract HEAD (committed files only, as the Architect's worktrees see them) to ``root``."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", "HEAD"],
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(root, filter="data")
    return root
