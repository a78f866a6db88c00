"""What the LLM coder asks: the feedback, its evidence, the relevant files, related
templates from ``examples/``, and the edit format it must answer in.

Files go in whole (a SEARCH must copy them exactly), most relevant first, until
the character budget is spent; the rest of the editable files are listed by
name so the model knows they exist. The most related template keeps its room
(up to a quarter of the budget) however large the repository grows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from examples.catalog import Catalog, Template
from ratchet import datasets
from ratchet.errors import NotFoundError
from ratchet.policy import WRITABLE
from ratchet.tasks import Task

from ..base import CodingRequest
from ..template import rank
from .client import Message
from .edits import DIVIDER, REPLACE, SEARCH

# The files that decide how the Runner routes, then the tests that pin it down.
FIRST = ("state/active.state.json",)
GROUPS = ("services/runner/agent", "tests/golden", "tests/services/runner")
LISTED = ("services/runner", "services/tuner", "tests/services/runner")
EXAMPLES = 2
EVIDENCE_CHARS = 4000

# What the agent does comes from the task the tree serves (see :func:`system_prompt`).
SYSTEM = f"""You improve Ratchet's Runner, an intent router, by editing its code, state and \
tests in a git repository. {{task}}

A candidate is released only if it passes every CI tier — micro (the state loads, golden \
cases), fast (unit tests, dev-split accuracy), full (held-out accuracy, p95 latency, error \
rate within ci/budgets.json) — and beats the active version's held-out accuracy. Releases \
are judged with the state's greedy strategy arm (the arm with the best posterior mean \
alpha / (alpha + beta)).

Rules:
- You may change only files under: {", ".join(WRITABLE["architect"])} (never tasks/).
- Do not weaken, remove or alter existing tests, golden cases or budgets.
- state/active.state.json must stay valid JSON of the same schema.

Answer with a short explanation, then one or more edit blocks, each exactly:

path/of/the/file.py
{SEARCH}
the exact lines to find, copied from the file (whitespace included)
{DIVIDER}
the lines to put in their place
{REPLACE}

The SEARCH text must occur exactly once in the file: include enough lines to make it \
unique. To create a file, leave SEARCH empty. All blocks are applied together or not at all."""


@dataclass
class Prompt:
    messages: list[Message]
    files: list[str] = field(default_factory=list)
    omitted: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)

    @property
    def chars(self) -> int:
        return sum(len(m["content"]) for m in self.messages)


def system_prompt(task: Task | None) -> str:
    """The standing instructions, saying what the router does: the task's own words
    (a tree that names no task, as in a bare test tree, gets a plain sentence)."""
    if task is None:
        return SYSTEM.replace("{task}", "It routes each message to one intent of its task.")
    oos = (
        f" A message that fits none of them is out of scope (label {task.oos_label})."
        if task.has_oos()
        else ""
    )
    what = task.manifest.description.strip() or "Messages, each routed to one intent."
    said = (
        f"It serves task {task.name} ({task.manifest.kind}): {what} "
        f"The task has {len(task.labels)} intents.{oos}"
    )
    return SYSTEM.replace("{task}", said)


def _served_task(tree: Path) -> Task | None:
    try:
        return datasets.task(tree)
    except NotFoundError:
        return None


def relevant_files(tree: Path) -> list[str]:
    """Paths worth showing, most relevant first."""
    paths = [p for p in FIRST if (tree / p).is_file()]
    for group in GROUPS:
        found = sorted(p for p in (tree / group).glob("*") if p.is_file() and p.suffix != ".pyc")
        paths += [str(p.relative_to(tree)) for p in found]
    return paths


def _listed(tree: Path, shown: set[str]) -> list[str]:
    names = {
        str(p.relative_to(tree))
        for group in LISTED
        for p in (tree / group).rglob("*.py")
        if "__pycache__" not in p.parts
    }
    return sorted(names - shown)


def _example_text(catalog: Catalog, template: Template) -> str:
    parts = [
        f"### Example template {template.id}: {template.title}",
        f"Problem: {template.problem}",
        f"Measured: dev {template.measured.dev_accuracy}, held-out "
        f"{template.measured.heldout_accuracy}; cost +{template.cost.latency_ms} ms/call, "
        f"+{template.cost.memory_mb} MB; dependencies: {', '.join(template.dependencies) or '-'}",
    ]
    for edit in template.edits:
        parts.append(
            f"It edits {edit.path}:\n{SEARCH}\n{edit.search.rstrip()}\n{DIVIDER}\n"
            f"{edit.replace.rstrip()}\n{REPLACE}"
        )
    if template.state_patch:
        parts.append(f"State merge patch: {json.dumps(template.state_patch)}")
    for name in template.files:
        source = catalog.directory(template) / "files" / name
        parts.append(f"It adds {name}:\n```\n{source.read_text()}```")
    return "\n\n".join(parts)


def _evidence(request: CodingRequest) -> str:
    if not request.evidence:
        return ""
    text = json.dumps(request.evidence, indent=1, sort_keys=True, default=str)
    if len(text) > EVIDENCE_CHARS:
        text = text[:EVIDENCE_CHARS] + "\n… (truncated)"
    return f"## Evidence (failing cases, confusions, SLO breaches)\n{text}\n"


def build_prompt(request: CodingRequest, tree: Path, catalog: Catalog, budget: int) -> Prompt:
    """The first question for ``request`` on the files of ``tree``."""
    prompt = Prompt(messages=[])
    sections = [
        f"## Feedback\n{request.text}\n",
        _evidence(request),
        f"## The repository at {request.base_version or 'the active version'}\n",
    ]
    related = [r.template for r in rank(catalog, request.text, request.evidence)][:EXAMPLES]
    examples = [(template, _example_text(catalog, template)) for template in related]
    reserved = len(examples[0][1]) if examples and len(examples[0][1]) <= budget // 4 else 0
    left = budget - reserved
    for path in relevant_files(tree):
        text = (tree / path).read_text(errors="replace")
        if len(text) > left:
            prompt.omitted.append(path)
            continue
        left -= len(text)
        prompt.files.append(path)
        sections.append(f"{path}\n```\n{text}```\n")
    others = _listed(tree, set(prompt.files)) + prompt.omitted
    if others:
        sections.append("Other files (not shown): " + ", ".join(sorted(set(others))) + "\n")
    left += reserved
    if examples:
        sections.append("## Related examples from the template library (for inspiration)\n")
    for template, text in examples:
        if len(text) <= left:
            left -= len(text)
            prompt.examples.append(template.id)
            sections.append(text + "\n")
    sections.append(
        "## Task\nChange the repository so that it addresses the feedback and routes "
        "better on the dev and held-out splits. Answer with edit blocks."
    )
    prompt.messages = [
        {"role": "system", "content": system_prompt(_served_task(tree))},
        {"role": "user", "content": "\n".join(s for s in sections if s)},
    ]
    return prompt


def retry_message(error: str) -> Message:
    """The follow-up after an answer whose edits could not be used (nothing was applied)."""
    return {
        "role": "user",
        "content": f"Your edits were not applied, none of them: {error}\n"
        "The files are unchanged. Answer again with corrected edit blocks in the format "
        "above; copy SEARCH text exactly from the files as shown.",
    }
