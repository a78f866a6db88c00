"""The ``template`` coder (offline): picks templates from ``examples/`` and applies them.

Ranking is deterministic: the feedback's words (and the evidence's, e.g. an
SLO name from the Triggerer) against each template's keywords, plus what the
playbook says to try first for the kinds of feedback recognised. The best few
become separate candidates, each applied all-or-nothing to its own worktree:
every file, anchor and the state patch is checked before anything is written.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from examples.catalog import Catalog, Template, library
from ratchet.ci.children import run as run_child
from ratchet.sandbox import confine
from ratchet.state import ACTIVE_KEY

from .base import Coder, CoderError, CodingRequest, Proposal

log = logging.getLogger(__name__)

MAX_CANDIDATES = 2
PLAYBOOK_WEIGHT = 3.0  # a playbook's first choice outweighs a few keyword hits
_WORD = re.compile(r"[a-z0-9_]+")
STATE_PATH = f"state/{ACTIVE_KEY}"
PREPARE_TIMEOUT_S = 1800.0  # embedding 9k texts on two busy cores


def words(text: str) -> set[str]:
    """Lower-case words; hyphenated and snake-cased terms count whole and by part."""
    found = set(_WORD.findall(text.lower().replace("-", " ")))
    return found | {part for word in found for part in word.split("_") if part}


def _strings(value: Any) -> Iterable[str]:
    """Every key and string in an evidence document (nested dicts and lists)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


@dataclass(frozen=True, slots=True)
class Ranked:
    template: Template
    score: float
    why: tuple[str, ...]


def rank(catalog: Catalog, text: str, evidence: dict[str, Any] | None = None) -> list[Ranked]:
    """Templates that match the feedback, best first (ties: cheaper, then by id)."""
    query = words(text) | words(" ".join(_strings(evidence or {})))
    boosts: dict[str, float] = {}
    reasons: dict[str, list[str]] = {}
    for entry in catalog.playbook.entries:
        signals = sorted(query & set(entry.signals))
        if not signals:
            continue
        for position, template_id in enumerate(entry.templates):
            boosts[template_id] = boosts.get(template_id, 0.0) + PLAYBOOK_WEIGHT / (position + 1)
            reasons.setdefault(template_id, []).append(
                f"playbook {entry.kind!r} ({', '.join(signals)}) choice {position + 1}"
            )
    ranked = []
    for template in catalog.templates.values():
        if template.needs:  # off by default: it needs something offline runs lack
            continue
        hits = sorted(query & set(template.keywords))
        score = len(hits) + boosts.get(template.id, 0.0)
        if score > 0:
            why = [f"keywords {', '.join(hits)}"] if hits else []
            ranked.append(Ranked(template, score, (*why, *reasons.get(template.id, []))))
    return sorted(ranked, key=lambda r: (-r.score, r.template.cost.latency_ms, r.template.id))


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def lead_new_arms(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """``after`` with each arm it adds to ``before`` made the greedy arm, keeping its prior weight.

    A template's prior (e.g. 4:1, mean 0.8) is written against untuned arms. Once
    the Tuner's feedback has lifted an old arm's posterior above it, the old arm
    would stay greedy and the tiers would judge the old code again: a candidate
    identical in score to its baseline, rejected. The new arm's mean is set
    halfway between the best old mean and 1; feedback then settles it as usual.
    """
    old = ((before.get("strategy") or {}).get("arms")) or {}
    arms = ((after.get("strategy") or {}).get("arms")) or {}
    means = [a["alpha"] / (a["alpha"] + a["beta"]) for a in old.values() if _is_arm(a)]
    if not means:
        return after
    lead = (max(means) + 1.0) / 2.0
    led = dict(arms)
    for name, arm in arms.items():
        if name in old or not _is_arm(arm):
            continue
        weight = arm["alpha"] + arm["beta"]
        if arm["alpha"] / weight <= max(means):
            led[name] = {**arm, "alpha": lead * weight, "beta": (1.0 - lead) * weight}
    return {**after, "strategy": {**after["strategy"], "arms": led}}


def _is_arm(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and all(isinstance(value.get(k), int | float) for k in ("alpha", "beta"))
        and value["alpha"] + value["beta"] > 0
    )


def _current(tree: Path, writes: dict[str, str], name: str) -> str | None:
    """A file's text as the planned writes leave it (None: it does not exist)."""
    if name in writes:
        return writes[name]
    return (tree / name).read_text() if (tree / name).is_file() else None


def _declared_arms(tree: Path, writes: dict[str, str]) -> set[str]:
    try:
        document = json.loads(_current(tree, writes, STATE_PATH) or "{}")
        return set(document["data"]["strategy"]["arms"])
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def is_applied(template: Template, tree: Path, writes: dict[str, str] | None = None) -> bool:
    """The version has ``template``: its state declares the template's arms (a template
    without arms: all its files are there)."""
    writes = writes or {}
    if template.arms():
        return set(template.arms()) <= _declared_arms(tree, writes)
    return bool(template.files) and all(
        _current(tree, writes, name) is not None for name in template.files
    )


def chain(catalog: Catalog, template: Template, tree: Path) -> list[Template]:
    """``template`` after what it requires that ``tree`` lacks, requirements first."""
    ordered: list[Template] = []

    def visit(current: Template, path: tuple[str, ...]) -> None:
        if current.id in path:
            raise CoderError(f"{template.id}: requirements form a cycle: {' -> '.join(path)}")
        for required in current.requires:
            needed = catalog.templates[required]
            if needed not in ordered and not is_applied(needed, tree):
                visit(needed, (*path, current.id))
        ordered.append(current)

    visit(template, ())
    return ordered


def chain_of(catalog: Catalog, template: Template) -> list[Template]:
    """``template`` and everything it requires, requirements first (whatever a tree has)."""
    ordered: list[Template] = []
    for required in template.requires:
        ordered += [t for t in chain_of(catalog, catalog.templates[required]) if t not in ordered]
    return [*ordered, template]


def _plan(catalog: Catalog, template: Template, tree: Path, writes: dict[str, str]) -> None:
    """Add ``template``'s writes to ``writes`` (on top of the ones already planned)."""
    source = catalog.directory(template) / "files"
    for name in template.files:
        content = (source / name).read_text()
        existing = _current(tree, writes, name)
        if existing is not None:
            raise CoderError(
                f"{template.id}: {name} already exists"
                + (" (the template is already applied)" if existing == content else "")
            )
        writes[name] = content
    for edit in template.edits:
        current = _current(tree, writes, edit.path)
        if current is None:
            raise CoderError(f"{template.id}: {edit.path} does not exist in this version")
        found = current.count(edit.search)
        if found != 1:
            anchor = edit.search.strip().splitlines()[0]
            raise CoderError(
                f"{template.id}: the anchor {anchor!r} occurs {found} times in {edit.path} "
                "(expected once): the file has moved on from what the template knows"
            )
        writes[edit.path] = current.replace(edit.search, edit.replace)
    if template.state_patch:
        try:
            document = json.loads(_current(tree, writes, STATE_PATH) or "")
        except (OSError, ValueError) as exc:
            raise CoderError(f"{template.id}: cannot read {STATE_PATH}: {exc}") from None
        data = document.get("data", {})
        document["data"] = lead_new_arms(data, merge_patch(data, template.state_patch))
        writes[STATE_PATH] = json.dumps(document, indent=2, sort_keys=True) + "\n"


def apply_template(catalog: Catalog, template: Template, tree: Path) -> list[str]:
    """Write ``template`` (and what it requires that ``tree`` lacks) into ``tree``;
    CoderError (nothing written) if any part won't apply."""
    if is_applied(template, tree):
        raise CoderError(
            f"{template.id}: already applied (the state declares {', '.join(template.arms())})"
        )
    writes: dict[str, str] = {}
    for item in chain(catalog, template, tree):
        _plan(catalog, item, tree, writes)
    for name, content in writes.items():  # everything checked: now write
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(content)
    return sorted(writes)


def fingerprint(template: Template) -> str:
    """The ledger's key for a template (its id: the same id is the same change)."""
    return f"template:{template.id}"


def prepare(template: Template, tree: Path, seconds: float = PREPARE_TIMEOUT_S) -> list[str]:
    """Run the template's ``prepare`` modules in ``tree`` (e.g. fill a model cache once,
    so the candidate's time-limited tiers load instead of train); their last lines.
    Each runs as a harness child (:mod:`ratchet.ci.children`) in the candidate's
    sandbox, so what it trains lands in the candidate's volume, where its tiers
    look first: it dies with the Architect, and what it leaves running is killed
    when it exits."""
    said = []
    for module in template.prepare:
        try:
            done = run_child(
                [sys.executable, "-m", module],
                cwd=tree,
                confinement=confine(tree),  # the candidate's code: in its sandbox
                capture_output=True,
                text=True,
                timeout=seconds,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise CoderError(f"{template.id}: prepare {module} took over {seconds:.0f} s") from None
        lines = (done.stdout + done.stderr).strip().splitlines() or ["no output"]
        if done.returncode != 0:
            raise CoderError(f"{template.id}: prepare {module} failed: {lines[-1]}")
        said.append(f"prepared {module}: {lines[-1]}")
    return said


class TemplateCoder(Coder):
    name = "template"

    def __init__(self, catalog: Catalog | None = None, limit: int = MAX_CANDIDATES) -> None:
        self.catalog = catalog or library()
        self.limit = limit

    def _split(
        self, request: CodingRequest, tree: Path | None = None
    ) -> tuple[list[Ranked], list[str]]:
        """(the best few to try, why the others that matched were left out). With the
        candidate's ``tree`` (at the active version), a template it already has is left
        out too: it is no change."""
        chosen: list[Ranked] = []
        skipped: list[str] = []
        for choice in rank(self.catalog, request.text, request.evidence):
            if tree is not None and is_applied(choice.template, tree):
                continue
            earlier = request.rejected(fingerprint(choice.template))
            if earlier is not None:  # same code, same template: it would fail the same way
                skipped.append(
                    f"skipped {choice.template.id}: rejected on {earlier.base_version} by job "
                    f"{earlier.job_id} ({earlier.reason})"
                )
            elif len(chosen) < self.limit:
                chosen.append(choice)
        return chosen, skipped

    def ranked(self, request: CodingRequest) -> list[Ranked]:
        return self._split(request)[0]

    def notes(self, request: CodingRequest) -> list[str]:
        skipped = self._split(request)[1]
        for line in skipped:
            log.info("job %s: %s", request.job_id, line)
        return skipped

    def candidates(self, request: CodingRequest) -> int:
        return max(1, len(self.ranked(request)))  # 1: propose() says why none matched

    def propose(self, request: CodingRequest, worktree: Path, index: int) -> Proposal:
        ranked, skipped = self._split(request, worktree)
        if not ranked and skipped:
            raise CoderError(
                f"every template that matches was rejected already on {request.base_version} "
                f"(the ledger): {'; '.join(skipped)}"
            )
        if not ranked and rank(self.catalog, request.text, request.evidence):
            raise CoderError("every matching template is already applied in this version")
        if not ranked:
            known = ", ".join(sorted(self.catalog.templates)) or "none"
            raise CoderError(f"no template in examples/ matches this feedback (templates: {known})")
        if index >= len(ranked):
            raise CoderError(f"only {len(ranked)} template(s) match; no candidate {index + 1}")
        choice = ranked[index]
        template = choice.template
        brought = [t.id for t in chain(self.catalog, template, worktree)[:-1]]
        changed = apply_template(self.catalog, template, worktree)
        prepared = [line for t in chain_of(self.catalog, template) for line in prepare(t, worktree)]
        return Proposal(
            fingerprint=fingerprint(template),
            summary=f"template {template.id}: {template.title}",
            log=[
                f"ranked {index + 1} of {len(ranked)} (score {choice.score:.2f}: "
                f"{'; '.join(choice.why)})",
                f"expected: dev {template.measured.dev_accuracy}, held-out "
                f"{template.measured.heldout_accuracy}; cost +{template.cost.latency_ms} ms/call, "
                f"+{template.cost.memory_mb} MB",
                *(f"brought required template {name}" for name in brought),
                *(f"changed {name}" for name in changed),
                *prepared,
            ],
        )
