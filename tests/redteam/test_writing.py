"""Writing outside its tree: the workspace's budgets, the harness, another build, another
candidate's volume, the machine's artifact cache, the home's data, a person's home;
and inside its own tree. Unconfined every write lands; in the sandbox none does and
nothing on disk outside the candidate's volume changes."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from ratchet.objects.artifacts import CACHE_ENV
from ratchet.sandbox import volume
from tests.conftest import PROJECT_ROOT
from tests.redteam.attacks import ATTACK, Ground, digest, sandbox_mode

WRITE_ATTACK = '''\
"""Appends to every file it can guess, drops a file in every folder, and opens the
harness's own files for writing (without writing: the real ones must stay as they are)."""
import errno, json, os, pathlib


def _try(action, where):
    try:
        action(where)
        return "written"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))


def _append(path):
    with open(path, "a") as handle:
        handle.write("\\n# pwned\\n")


def _drop(folder):
    pathlib.Path(folder, "pwned.py").write_text("pwned = True\\n")


def _open_for_writing(path):
    os.close(os.open(path, os.O_WRONLY))


def test_the_router_loads():
    guesses = json.loads((pathlib.Path.cwd() / "tests" / "guesses.json").read_text())
    outcome = {p: _try(_append, p) for p in guesses["files"]}
    outcome.update({d: _try(_drop, d) for d in guesses["folders"]})
    outcome.update({p: _try(_open_for_writing, p) for p in guesses.get("probes", [])})
    out = pathlib.Path(os.environ["HOME"]) / "loot.json"
    out.write_text(json.dumps(outcome))
'''

REFUSED = {"EROFS", "ENOENT", "EACCES", "EPERM"}

# From a namespace of its own, where it would hold every capability: remount its tree
# read-write, or mount over it, then write.
NAMESPACE_ESCAPE = """\
import os, subprocess


def test_the_router_loads():
    tree = os.getcwd()
    script = (
        f"mount -o remount,rw,bind {tree} {tree}; mount -t tmpfs none {tree}/tests; "
        f"echo pwned > {tree}/pwned.txt; echo pwned > {tree}/tests/pwned.txt"
    )
    for flags in ("-Urm", "-m"):
        subprocess.run(["unshare", flags, "sh", "-c", script], capture_output=True)
"""


def targets(ground: Ground, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Path]]:
    """Plant what the attack aims at; ``files`` to append to, ``folders`` to drop into,
    ``watched`` (what must not change), ``own`` (the candidate's own tree's targets)."""
    base, home = ground.base, ground.home
    harness = base / "harness" / "ratchet" / "ci"  # a copy of the harness, ours to lose
    harness.mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "ratchet" / "ci" / "unit_tests.py", harness / "unit_tests.py")
    other_build = home / "builds" / "other" / "services" / "runner"
    other_build.mkdir(parents=True)
    (other_build / "app.py").write_text("served = True\n")
    other_volume = volume.ensure(home / "worktrees" / "other")  # another candidate's
    (other_volume / "cache" / "model.bin").write_bytes(b"trained")
    machine_cache = base / "machine-cache"
    machine_cache.mkdir()
    (machine_cache / "model.bin").write_bytes(b"trained by the fleet")
    monkeypatch.setenv(CACHE_ENV, str(machine_cache))
    ground.plant({"services/runner/agent/router.py": "ROUTER = 1\n", ATTACK: WRITE_ATTACK})
    own = [ground.tree / "services/runner/agent/router.py", ground.tree / "ci" / "budgets.json"]
    files = [
        ground.workspace / "ci" / "budgets.json",
        harness / "unit_tests.py",
        other_build / "app.py",
        other_volume / "cache" / "model.bin",
        machine_cache / "model.bin",
        ground.canaries["home data"].path,
        ground.canaries["heldout"].path,
    ]
    folders = [ground.workspace / "ci", harness, other_build, home / "data", base / "userhome"]
    return {
        "files": files + own,
        "folders": [*folders, ground.tree],
        "watched": [base, other_volume, machine_cache],
        "own": [*own, ground.tree],
    }


def test_writes_outside_and_inside_the_tree_land_unconfined(
    ground: Callable[[str], Ground], monkeypatch: pytest.MonkeyPatch
) -> None:
    here = ground("unconfined")
    aims = targets(here, monkeypatch)
    here.guess(files=aims["files"], folders=aims["folders"])
    try:
        with sandbox_mode(monkeypatch, "none"):
            run = here.run_tests()
        assert run.passed, run.reason
        outcome = here.loot()
        assert set(outcome.values()) == {"written"}, outcome  # the attack is real
    finally:
        volume.release(here.home / "worktrees" / "other")


def test_no_write_outside_or_inside_the_tree_lands_in_the_sandbox(
    ground: Callable[[str], Ground], monkeypatch: pytest.MonkeyPatch
) -> None:
    here = ground("sandboxed")
    aims = targets(here, monkeypatch)
    harness = PROJECT_ROOT / "ratchet" / "ci"  # the real harness: opened, never written
    probes = [harness / "unit_tests.py", harness / "agent_worker.py", PROJECT_ROOT / "ci"]
    here.guess(files=aims["files"], folders=aims["folders"], probes=probes)
    before = digest(aims["watched"])
    try:
        with sandbox_mode(monkeypatch, "auto"):
            run = here.run_tests()
        assert run.passed, run.reason
        outcome = here.loot()
        assert len(outcome) == len(aims["files"]) + len(aims["folders"]) + len(probes)
        assert set(outcome.values()) <= REFUSED, outcome
        assert {outcome[str(p)] for p in aims["own"]} == {"EROFS"}  # its tree is read-only
        assert digest(aims["watched"]) == before  # nothing changed, nothing was added
    finally:
        volume.release(here.home / "worktrees" / "other")


def test_a_namespace_of_its_own_gives_no_way_to_write_its_tree(
    ground: Callable[[str], Ground], monkeypatch: pytest.MonkeyPatch
) -> None:
    loose = ground("unconfined")
    loose.plant({ATTACK: NAMESPACE_ESCAPE})
    with sandbox_mode(monkeypatch, "none"):
        assert loose.run_tests().passed
    assert (loose.tree / "pwned.txt").exists()  # the script writes where it can

    here = ground("namespaces")
    here.plant({ATTACK: NAMESPACE_ESCAPE})
    before = digest([here.base])
    with sandbox_mode(monkeypatch, "auto"):
        run = here.run_tests()
    assert run.passed, run.reason
    assert digest([here.base]) == before
