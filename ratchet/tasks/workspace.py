"""Make a new workspace serve a task, before its first release.

The project ships ready for its default task. Another task is installed by
one human commit in the workspace, so v0.1.0 already serves it and every
release after carries it: the task's folder under ``tasks/`` (copied in when
it comes from outside the project) without its ``test.csv``, which goes to the
home's held-out vault instead (:mod:`ratchet.tasks.heldout`),
``tasks/active.json``, the first state (the agent named after the task, a
reply set per label), the micro tier's golden cases, and the task's service
objectives in ``ci/budgets.json``.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ratchet.atomic import atomic_write_bytes
from ratchet.ci.agent_process import agent_process
from ratchet.errors import ConfigError, NotFoundError
from ratchet.state import ACTIVE_KEY, StateDocument
from ratchet.tasks.heldout import store_heldout
from ratchet.tasks.manifest import TEST
from ratchet.tasks.task import (
    ACTIVE_FILE,
    DRAWN_GOLDEN,
    TASKS_DIR,
    Task,
    active_name,
    load_task,
)
from ratchet.vcs.repo import open_repo

GOLDEN_FILE = Path("tests") / "golden" / "micro.json"
# The accuracy floors sit this far under v0.1.0's dev accuracy; held-out's (its labels
# are not read here) a further three standard errors of an accuracy on its row count.
FLOOR_MARGIN = 0.01
HELDOUT_STANDARD_ERRORS = 3.0
BUDGETS_FILE = Path("ci") / "budgets.json"


def install_task(workspace: Path, task: Task, vault: Path) -> list[str]:
    """Commit ``task`` into ``workspace`` unless it serves it already; the steps taken.

    ``task`` is a folder with both splits; its ``test.csv`` is stored in ``vault``
    (the home's ``heldout/``) and never copied into the workspace.
    """
    target = workspace / TASKS_DIR / task.name
    current = _active_or_none(workspace)
    if current == task.name and target.resolve() == task.folder.resolve():
        return []
    store_heldout(vault, task)
    if target.exists() and target.resolve() != task.folder.resolve():
        if not _same_files(target, task.folder):
            raise ConfigError(
                f"a task named {task.name!r} already ships with the project and differs from "
                f"{task.folder}; rename yours (`name` in its task.toml)"
            )
    elif not target.exists():
        shutil.copytree(
            task.folder, target, ignore=shutil.ignore_patterns(".*", "__pycache__", TEST)
        )
    installed = load_task(target)
    _write_json(workspace / ACTIVE_FILE, {"task": installed.name})
    state = first_state(workspace, installed)
    _write_json(workspace / "state" / ACTIVE_KEY, state.to_json())
    first = measure_first_release(workspace, installed, state)
    budgets = budgets_for(workspace, task, first)  # the brought folder's: it has test.csv
    _write_json(workspace / BUDGETS_FILE, budgets)
    cases = first.golden
    _write_json(
        workspace / GOLDEN_FILE,
        {
            "description": f"Must-pass cases of the micro tier for task {installed.name}: "
            "a release must route all of them right.",
            "cases": cases,
        },
    )
    with open_repo(workspace) as repo:
        repo.git.add("--all", "--", str(TASKS_DIR), "state", str(GOLDEN_FILE), str(BUDGETS_FILE))
        if not repo.git.diff("--cached", "--name-only"):
            return []  # committed before a crash stopped the first release: nothing to redo
        repo.git.commit("-m", f"serve task {installed.name}", "--author", "human <human@ratchet>")
    return [
        f"installed task {installed.name} ({len(installed.labels)} labels, {len(cases)} golden "
        f"cases; v0.1.0 dev accuracy {first.dev_accuracy:.4f}, so the floors are dev "
        f"{budgets['budgets']['min_dev_accuracy']:.2f}, held-out "
        f"{budgets['budgets']['min_heldout_accuracy']:.2f})"
    ]


def _active_or_none(workspace: Path) -> str | None:
    try:
        return active_name(workspace)
    except NotFoundError:
        return None


def _same_files(left: Path, right: Path) -> bool:
    """The same task files, held-out split aside (the workspace's copy has none)."""

    def names(folder: Path) -> list[str]:
        return sorted(
            p.name
            for p in folder.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.name != TEST
        )

    if names(left) != names(right):
        return False
    return all((left / n).read_bytes() == (right / n).read_bytes() for n in names(right))


def first_state(workspace: Path, task: Task) -> StateDocument:
    """The project's first state with the task's agent name and replies; no rules yet."""
    committed = StateDocument.from_file_bytes(
        ACTIVE_KEY, (workspace / "state" / ACTIVE_KEY).read_bytes()
    )
    data: dict[str, Any] = dict(committed.data)
    data["agent"] = f"{task.name}-router"
    data["rules"] = []
    data["replies"] = {
        label: [
            {"id": f"{label}.{chr(ord('a') + i)}", "strength": 0.0, "text": text}
            for i, text in enumerate(texts)
        ]
        for label, texts in task.replies().items()
    }
    return StateDocument(updated_at=committed.updated_at, updated_by="init", data=data)


@dataclass(frozen=True)
class FirstRelease:
    """What v0.1.0 does on the task: the golden cases it passes and its dev accuracy."""

    golden: list[dict[str, str]]
    dev_accuracy: float


def measure_first_release(workspace: Path, task: Task, state: StateDocument) -> FirstRelease:
    """Route drawn golden candidates (every arm) and dev (the greedy arm) with v0.1.0.

    A task's own ``golden.json`` is kept whole; drawn candidates are kept only where
    every arm is right, so the first patch's micro gate is not failed by v0.1.0 itself.
    """
    cases = task.golden_cases()
    given = (task.folder / "golden.json").is_file()
    dev = task.examples("dev")
    texts = [case["text"] for case in cases] + [e.text for e in dev]
    arms = list(state.data.get("strategy", {}).get("arms", {}))
    right = [True] * len(cases)
    with agent_process(workspace, texts, "micro") as agent:
        greedy = agent.route(state)[len(cases) :]
        for arm in arms if not given else []:
            answers = agent.route(state, arm)[: len(cases)]
            right = [
                ok and got == c["intent"] for ok, got, c in zip(right, answers, cases, strict=True)
            ]
    golden = (
        cases if given else [c for c, ok in zip(cases, right, strict=True) if ok][:DRAWN_GOLDEN]
    )
    hits = sum(got == e.intent for got, e in zip(greedy, dev, strict=True))
    return FirstRelease(golden, hits / len(dev) if dev else 0.0)


def budgets_for(workspace: Path, task: Task, first: FirstRelease) -> dict[str, Any]:
    """``ci/budgets.json`` for the task: accuracy floors just under v0.1.0's dev accuracy
    (the project's floors are its default task's), and the task's objectives over ``slos``.

    No release may fall clearly below the first one; held-out is not read here
    (only the full tier reads its labels), so its floor is set from dev, lower by the
    noise of an accuracy measured on as many rows as it has.
    """
    budgets: dict[str, Any] = json.loads((workspace / BUDGETS_FILE).read_text())
    p, rows = first.dev_accuracy, max(1, len(task.examples("heldout")))
    noise = HELDOUT_STANDARD_ERRORS * math.sqrt(p * (1 - p) / rows)
    for key, margin in (
        ("min_dev_accuracy", FLOOR_MARGIN),
        ("min_heldout_accuracy", FLOOR_MARGIN + noise),
    ):
        budgets["budgets"][key] = max(0.0, math.floor((p - margin) * 100) / 100)
    slos, section = task.manifest.slos, budgets.setdefault("slos", {})
    if slos.routing_accuracy is not None:
        section.setdefault("routing_accuracy", {})["objective"] = slos.routing_accuracy
    if slos.error_rate is not None:
        section.setdefault("error_rate", {})["objective"] = 1 - slos.error_rate
    if slos.latency_p95_ms is not None:
        section.setdefault("latency_p95_ms", {})["threshold"] = slos.latency_p95_ms
    return budgets


def _write_json(path: Path, document: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, (json.dumps(document, indent=2, sort_keys=False) + "\n").encode())
