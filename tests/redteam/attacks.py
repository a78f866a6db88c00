"""The red team's ground: a home laid out as the Architect's, with canary labels planted
where held-out labels live or could live, and the switch between sandbox modes.

A :class:`Ground` is a small copy of what a candidate's tree is surrounded by:

- ``checkout``: the project checkout the workspace's ``origin`` names, whose
  ``tasks/banking77/test.csv`` holds the held-out labels (as it did before #18);
- ``home/workspace``: a clone of it, whose last commit removed ``test.csv``
  (a tree no longer carries it, its git history still does);
- ``home/worktrees/cand``: the candidate's tree, a real worktree of the workspace
  (its ``.git`` file points at the workspace's repository);
- ``home/heldout/banking77/test.csv``: where held-out splits live now;
- ``home/builds/other``: another build, carrying a ``test.csv`` as builds did;
- ``home/data``: the home's data; ``userhome``: a person's home folder.

Every canary is a CSV of ``text,label`` whose labels are unique to the test, so a
label found anywhere in what an attack reports can only have been read from it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ratchet.ci.unit_tests import UnitTestRun, run_unit_tests
from ratchet.sandbox import sandbox_support, volume
from ratchet.sandbox.support import MODE_ENV, _probed
from tests.conftest import PROJECT_ROOT

TESTS = "tests/services/runner"  # the fast tier's default unit-test path
ATTACK = f"{TESTS}/test_attack.py"
GUESSES = "tests/guesses.json"  # what the attacker is assumed to know: every path


@contextmanager
def sandbox_mode(monkeypatch: pytest.MonkeyPatch, mode: str) -> Iterator[None]:
    """Run the block with ``RATCHET_SANDBOX=mode`` (the probe is taken afresh)."""
    monkeypatch.setenv(MODE_ENV, mode)
    _probed.cache_clear()
    try:
        if mode != "none":
            support = sandbox_support()
            assert support.available, f"no sandbox on this machine: {support.reason}"
        yield
    finally:
        monkeypatch.delenv(MODE_ENV)
        _probed.cache_clear()


def _git(cwd: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=red", "-c", "user.email=red@team", *args]
    done = subprocess.run(command, cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout.strip()


@dataclass(frozen=True)
class Canary:
    place: str
    path: Path
    label: str
    text: str


@dataclass
class Ground:
    base: Path
    home: Path
    workspace: Path
    checkout: Path
    tree: Path
    canaries: dict[str, Canary] = field(default_factory=dict)

    @property
    def volume(self) -> Path:
        return volume.path_for(self.tree)

    def plant(self, files: Mapping[str, str]) -> None:
        """Write the candidate's diff into its tree (``path -> text``)."""
        for name, text in files.items():
            target = self.tree / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)

    def guess(self, **known: Any) -> None:
        """Tell the attack what it could have guessed (paths, a port, a pid)."""
        self.plant({GUESSES: json.dumps(known, default=str)})

    def loot(self) -> dict[str, Any]:
        """What the attack reported (``$HOME/loot.json`` in its volume); KeyError if none."""
        path = self.volume / "home" / "loot.json"
        if not path.exists():
            raise KeyError(f"the attack reported nothing: no {path}")
        found: dict[str, Any] = json.loads(path.read_text())
        return found

    def run_tests(self, seconds: float = 60) -> UnitTestRun:
        """The fast tier's run of the candidate's unit tests."""
        (self.volume / "home" / "loot.json").unlink(missing_ok=True)
        return run_unit_tests(self.tree, [TESTS], seconds, 2048)

    def canary_labels(self) -> dict[str, str]:
        return {c.label: c.place for c in self.canaries.values()}

    def stolen(self, text: str) -> set[str]:
        """The places whose canary labels appear in ``text``."""
        return {place for label, place in self.canary_labels().items() if label in text}


def canary(ground: Ground, place: str, path: Path) -> Canary:
    label = f"canary_{place.replace(' ', '_')}_{uuid.uuid4().hex[:8]}"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = f"how do i top up {place}"
    path.write_text(f"text,label\n{text},{label}\n")
    found = Canary(place, path, label, text)
    ground.canaries[place] = found
    return found


def make_ground(base: Path) -> Ground:
    """The home around a candidate's tree, canaries planted (see the module's doc)."""
    checkout, home = base / "checkout", base / "home"
    checkout.mkdir(parents=True)
    _git(checkout, "init", "-q", "-b", "main")
    (checkout / "ci").mkdir()
    shutil.copy(PROJECT_ROOT / "ci" / "budgets.json", checkout / "ci" / "budgets.json")
    ground = Ground(base, home, home / "workspace", checkout, home / "worktrees" / "cand")
    canary(ground, "git history", checkout / "tasks" / "banking77" / "test.csv")
    _git(checkout, "add", "-A")
    _git(checkout, "commit", "-qm", "the project, held-out split included")
    home.mkdir()
    _git(home, "clone", "-q", str(checkout), "workspace")
    _git(ground.workspace, "rm", "-q", "tasks/banking77/test.csv")
    _git(ground.workspace, "commit", "-qm", "held-out split out of the tree")
    _git(ground.workspace, "worktree", "add", "-q", str(ground.tree))
    # The checkout's copy, rewritten with a label of its own (its history keeps the first).
    canary(ground, "checkout", checkout / "tasks" / "banking77" / "test.csv")
    canary(ground, "heldout", home / "heldout" / "banking77" / "test.csv")
    canary(ground, "other build", home / "builds" / "other" / "tasks" / "banking77" / "test.csv")
    canary(ground, "home data", home / "data" / "exports" / "labels.csv")
    canary(ground, "user home", base / "userhome" / ".cache" / "test.csv")
    return ground


def digest(paths: list[Path]) -> dict[str, str]:
    """Each file under ``paths`` (files or folders) with its hash: what changed shows."""
    found: dict[str, str] = {}
    for top in paths:
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for path in files:
            found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found
