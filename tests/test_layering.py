"""The layering contracts (``[tool.importlinter]``): kept by the tree, broken by a bad import.

``make lint`` runs them; here they run on this checkout and on copies of it
with one forbidden import added, and the static-over-editable contract is
held to the path policy that decides what the Architect may edit, as is the
README's Layout table.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from ratchet.errors import PolicyError
from ratchet.policy import check_paths
from tests.conftest import PROJECT_ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
CONFIG: dict[str, Any] = PYPROJECT["tool"]["importlinter"]
CONTRACTS = {contract["id"]: contract for contract in CONFIG["contracts"]}


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=root,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_tree_keeps_every_contract() -> None:
    done = lint_imports(PROJECT_ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    for contract in CONTRACTS.values():
        assert f"{contract['name']} KEPT" in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("ratchet/bad_import.py", "import services.architect.app\n", "layers"),
        ("ratchet/bad_import.py", "import fleet.supervisor\n", "layers"),
        ("services/versions/bad_import.py", "import fleet.cli.main\n", "layers"),
        (
            "services/tuner/bad_import.py",
            "from services.runner.agent import state\n",
            "services-independent",
        ),
        ("fleet/bad_import.py", "import services.runner.app\n", "static-over-editable"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tmp_path: Path, module: str, line: str, broken: str
) -> None:
    tree = tmp_path / "tree"
    for package in CONFIG["root_packages"]:
        shutil.copytree(
            PROJECT_ROOT / package,
            tree / package,
            ignore=lambda _, names: [n for n in names if n.endswith((".pyc", "__pycache__"))],
        )
    shutil.copy(PROJECT_ROOT / "pyproject.toml", tree)
    assert lint_imports(tree).returncode == 0  # the copy alone keeps them all

    (tree / module).write_text(line)
    done = lint_imports(tree)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{CONTRACTS[broken]['name']} BROKEN" in done.stdout
    assert module.removesuffix(".py").replace("/", ".") in done.stdout  # the culprit is named


def _packages() -> list[str]:
    """The packages the contracts cover: each root package, and each service."""
    found = []
    for root in CONFIG["root_packages"]:
        if root == "services":
            found += [
                f"services.{path.parent.name}"
                for path in sorted((PROJECT_ROOT / "services").glob("*/__init__.py"))
            ]
        else:
            found.append(root)
    return found


def _editable_path(path: str) -> bool:
    """Whether the path policy lets the Architect change ``path``."""
    try:
        check_paths("architect", [path])
    except PolicyError:
        return False
    return True


def _editable(package: str) -> bool:
    return _editable_path(package.replace(".", "/") + "/__init__.py")


def test_the_static_contract_names_what_the_policy_makes_editable() -> None:
    contract = CONTRACTS["static-over-editable"]
    editable = {package for package in _packages() if _editable(package)}
    static = set(_packages()) - editable
    assert set(contract["forbidden_modules"]) == editable
    assert set(contract["source_modules"]) == static


def _layout_rows() -> list[tuple[list[str], str]]:
    """(paths, edited by) of each row of the README's Layout table."""
    text = (PROJECT_ROOT / "README.md").read_text()
    table = text.split("## Layout\n", 1)[1].strip().split("\n\n", 1)[0]
    rows = []
    for line in table.splitlines()[2:]:
        paths, _, edited_by = (cell.strip() for cell in line.strip("|").split("|"))
        rows.append((re.findall(r"`([^`]+)`", paths), edited_by))
    return rows


def test_the_readme_layout_says_what_the_policy_lets_the_architect_edit() -> None:
    rows = _layout_rows()
    assert rows
    for paths, edited_by in rows:
        for path in paths:
            probe = path + "__init__.py" if path.endswith("/") else path
            assert _editable_path(probe) == ("the Architect" in edited_by), (path, edited_by)
