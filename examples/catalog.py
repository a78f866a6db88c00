"""The library's index: every template's metadata and the playbook, loaded and validated.

A template is a directory with ``template.json`` (what problem it addresses,
its cost, its dependencies, the change) and ``files/`` (new files, copied
into the tree at the same relative path). The change is three parts:

- **files** to add: most of a template's code lives in new modules, which no
  later change of the Runner can conflict with;
- **edits**: a few anchored search/replace hooks into existing files; each
  search string must occur exactly once, so an edit whose anchor moved fails
  loudly instead of landing in the wrong place (a unified diff would fail on
  any drift of its context lines; a whole-file copy would silently undo it);
- **state_patch**: a JSON merge patch (RFC 7386) on the state's ``data``.

The playbook (``playbook.json``) maps kinds of feedback, recognised by their
signal words, to the templates worth trying first.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ratchet.errors import PolicyError
from ratchet.policy import check_paths

LIBRARY = Path(__file__).resolve().parent
TEMPLATE_FILE = "template.json"
PLAYBOOK_FILE = "playbook.json"


class CatalogError(ValueError):
    """A template or the playbook is malformed (names the file and the problem)."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Cost(Strict):
    latency_ms: float = Field(ge=0, description="added to each route call (p50, one core)")
    memory_mb: float = Field(ge=0, description="resident memory the model adds")
    train_seconds: float = Field(ge=0, description="training at start when nothing is cached")
    usd_per_1k_calls: float = Field(
        default=0.0, ge=0, description="money per 1,000 route calls (a paid endpoint's tokens)"
    )


class Measured(Strict):
    dev_accuracy: float = Field(ge=0, le=1)
    heldout_accuracy: float | None = Field(default=None, ge=0, le=1)


class TemplateTest(Strict):
    min_dev_accuracy: float = Field(ge=0, le=1)


class Edit(Strict):
    path: str
    search: str = Field(min_length=1)
    replace: str


class Template(Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+/[a-z0-9_]+$")
    kind: Literal["runner_strategy", "tuner_tool"]
    title: str
    problem: str
    addresses: list[str] = Field(min_length=1)  # playbook kinds
    keywords: list[str] = Field(min_length=1)
    cost: Cost
    measured: Measured
    test: TemplateTest
    dependencies: list[str] = Field(default_factory=list)
    requires: list[str] = Field(default_factory=list)  # templates applied first when absent
    prepare: list[str] = Field(default_factory=list)  # modules run once in the tree (caches)
    files: list[str] = Field(default_factory=list)
    edits: list[Edit] = Field(default_factory=list)
    state_patch: dict[str, Any] = Field(default_factory=dict)
    # What must exist outside the repository for the template to do anything
    # (e.g. an OpenAI-compatible endpoint); such a template is off by default:
    # the template coder never proposes it, a human or another coder may.
    needs: list[str] = Field(default_factory=list)
    notes: str = ""

    @model_validator(mode="after")
    def _changes_something(self) -> Template:
        if not (self.files or self.edits or self.state_patch):
            raise ValueError("a template must add files, edit files or patch the state")
        if any(k != k.lower() for k in self.keywords):
            raise ValueError("keywords are lower-case")
        return self

    def arms(self) -> list[str]:
        """The strategy arms the template declares (its mark in a version's state)."""
        strategy = self.state_patch.get("strategy")
        arms = strategy.get("arms") if isinstance(strategy, dict) else None
        return sorted(arms) if isinstance(arms, dict) else []

    def paths(self) -> list[str]:
        """Every path the template writes in a tree."""
        changed = {*self.files, *(edit.path for edit in self.edits)}
        if self.state_patch:
            changed.add("state/active.state.json")
        return sorted(changed)


class PlaybookEntry(Strict):
    kind: str
    signals: list[str] = Field(min_length=1)  # lower-case words that say this kind of feedback
    templates: list[str]  # ids to try, best first
    why: str


class Playbook(Strict):
    entries: list[PlaybookEntry]


class Catalog(Strict):
    root: Path
    templates: dict[str, Template]
    playbook: Playbook

    def directory(self, template: Template) -> Path:
        return self.root / template.id


def _read(path: Path, model: type[Strict]) -> Any:
    try:
        return model.model_validate(json.loads(path.read_text()))
    except (OSError, ValueError, ValidationError) as exc:
        raise CatalogError(f"{path}: {exc}") from None


def _check(template: Template, root: Path) -> None:
    where = root / template.id
    try:
        check_paths("architect", template.paths())  # the policy the candidate will meet
    except PolicyError as exc:
        raise CatalogError(f"{where / TEMPLATE_FILE}: {exc}") from None
    for name in template.files:
        if not (where / "files" / name).is_file():
            raise CatalogError(f"{where}: files/{name} is declared but missing")


def load(root: Path = LIBRARY) -> Catalog:
    """Every template under ``root`` (``<group>/<name>/template.json``) and the playbook."""
    templates: dict[str, Template] = {}
    for path in sorted(root.glob(f"*/*/{TEMPLATE_FILE}")):
        template: Template = _read(path, Template)
        if template.id != f"{path.parent.parent.name}/{path.parent.name}":
            raise CatalogError(f"{path}: id {template.id!r} does not match its directory")
        _check(template, root)
        templates[template.id] = template
    playbook: Playbook = _read(root / PLAYBOOK_FILE, Playbook)
    kinds = {entry.kind for entry in playbook.entries}
    for entry in playbook.entries:
        unknown = [t for t in entry.templates if t not in templates]
        if unknown:
            raise CatalogError(f"playbook kind {entry.kind!r} names unknown templates {unknown}")
    for template in templates.values():
        absent = [t for t in template.requires if t not in templates or t == template.id]
        if absent:
            raise CatalogError(f"{template.id}: requires unknown templates {absent}")
        missing = [k for k in template.addresses if k not in kinds]
        if missing:
            raise CatalogError(f"{template.id}: addresses kinds the playbook lacks: {missing}")
    return Catalog(root=root, templates=templates, playbook=playbook)


@cache
def library() -> Catalog:
    """The library next to this module (loaded once per process)."""
    return load(LIBRARY)
