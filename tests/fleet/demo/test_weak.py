"""The demo's weak candidate: a diff that applies to main and hides from the tiers."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from fleet.demo.weak import ROUTER, weak_patch, weak_source
from tests.conftest import PROJECT_ROOT, git


def test_the_weak_patch_applies_to_main_and_sabotages_only_builds(tmp_path: Path) -> None:
    repo = tmp_path / "workspace"
    (repo / ROUTER).parent.mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / ROUTER, repo / ROUTER)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "router")
    patch = weak_patch(repo)
    assert patch.startswith(f"--- a/{ROUTER}\n+++ b/{ROUTER}\n")
    subprocess.run(["git", "apply"], cwd=repo, input=patch, text=True, check=True)
    patched = (repo / ROUTER).read_text()
    compile(patched, ROUTER, "exec")  # still Python
    assert '_SERVED_FROM_A_BUILD = "builds" in Path(__file__).resolve().parts' in patched
    assert "if _SERVED_FROM_A_BUILD and weak and rule is None" in patched
    assert patched.count("intent, confidence = alternatives[1]") == 1


def test_a_router_whose_anchors_moved_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot place the weak candidate"):
        weak_source("def predict(): pass\n")
