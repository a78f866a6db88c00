"""The library's metadata validates, and a malformed template is refused with its reason."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from examples.catalog import LIBRARY, CatalogError, load
from ratchet.policy import check_paths


def test_every_template_and_the_playbook_validate() -> None:
    catalog = load()
    assert {"runner_strategies/tfidf_linear", "runner_strategies/bm25_fts5"} <= set(
        catalog.templates
    )
    kinds = {entry.kind for entry in catalog.playbook.entries}
    for template in catalog.templates.values():
        check_paths("architect", template.paths())
        assert set(template.addresses) <= kinds
        assert template.measured.dev_accuracy >= template.test.min_dev_accuracy
        for name in template.files:
            assert (catalog.directory(template) / "files" / name).is_file()


def test_every_template_has_its_own_test() -> None:
    tests = {p.name for p in Path(__file__).parent.glob("test_*.py")}
    for template_id in load().templates:
        assert f"test_{template_id.split('/')[1]}.py" in tests, template_id


def copy_library(tmp_path: Path) -> Path:
    root = tmp_path / "examples"
    shutil.copytree(LIBRARY, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def edit_template(root: Path, template_id: str, **changes: object) -> None:
    path = root / template_id / "template.json"
    document = json.loads(path.read_text())
    document.update(changes)
    path.write_text(json.dumps(document))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"files": ["ratchet/policy.py"]}, "architect may not change ratchet/policy.py"),
        ({"files": ["services/runner/agent/missing.py"]}, "files/services/runner/agent/missing"),
        ({"id": "runner_strategies/other"}, "does not match its directory"),
        ({"addresses": ["speed"]}, "addresses kinds the playbook lacks"),
        ({"cost": {"latency_ms": -1, "memory_mb": 1, "train_seconds": 1}}, "latency_ms"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_a_malformed_template_is_refused(
    tmp_path: Path, changes: dict[str, object], reason: str
) -> None:
    root = copy_library(tmp_path)
    edit_template(root, "runner_strategies/tfidf_linear", **changes)
    with pytest.raises(CatalogError, match=reason):
        load(root)


def test_the_playbook_names_only_known_templates(tmp_path: Path) -> None:
    root = copy_library(tmp_path)
    shutil.rmtree(root / "runner_strategies" / "bm25_fts5")
    with pytest.raises(CatalogError, match="unknown templates"):
        load(root)
