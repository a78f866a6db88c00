"""Make a new workspace serve a task, before its first release.

The project ships ready for its default task. Another task is installed by
one human commit in the workspace, so v0.1.0 already serves it and every
release after carries it: the task's folder under ``tasks/`` (copied in when
it comes from outside the project), ``tasks/active.json``, the first state
(the agent named after the task, a reply set per label), the micro tier's
golden cases, and the task's service objectives in ``ci/budgets.json``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from ratchet.atomic import atomic_write_bytes
from ratchet.ci.agent_process import agent_process
from ratchet.errors import ConfigError
from ratchet.state import ACTIVE_KEY, StateDocument
from ratchet.tasks.task import ACTIVE_FILE, DRAWN_GOLDEN, TASKS_DIR, Task, load_task
from ratchet.vcs.repo import open_repo

GOLDEN_FILE = Path("tests") / "golden" / "micro.json"
BUDGETS_FILE = Path("ci") / "budgets.json"


def install_task(workspace: Path, task: Task) -> list[str]:
    """Commit ``task`` into ``workspace`` unless it serves it already; the steps taken."""
    target = workspace / TASKS_DIR / task.name
    current = _active_or_none(workspace)
    if current == task.name and target.resolve() == task.folder.resolve():
        return []
    if target.exists() and target.resolve() != task.folder.resolve():
        if not _same_files(target, task.folder):
            raise ConfigError(
                f"a task named {task.name!r} already ships with the project and differs from "
                f"{task.folder}; rename yours (`name` in its task.toml)"
            )
    elif not target.exists():
        shutil.copytree(task.folder, target, ignore=shutil.ignore_patterns(".*", "__pycache__"))
    installed = load_task(target)
    _write_json(workspace / ACTIVE_FILE, {"task": installed.name})
    state = first_state(workspace, installed)
    _write_json(workspace / "state" / ACTIVE_KEY, state.to_json())
    budgets = _budgets_with_slos(workspace, installed)
    if budgets is not None:
        _write_json(workspace / BUDGETS_FILE, budgets)
    cases = golden_cases(workspace, installed, state)
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
        f"installed task {installed.name} ({len(installed.labels)} labels, {len(cases)} golden)"
    ]


def _active_or_none(workspace: Path) -> str | None:
    path = workspace / ACTIVE_FILE
    if not path.is_file():
        return None
    name: str = json.loads(path.read_text(encoding="utf-8"))["task"]
    return name


def _same_files(left: Path, right: Path) -> bool:
    names = sorted(p.name for p in right.iterdir() if p.is_file() and not p.name.startswith("."))
    if names != sorted(p.name for p in left.iterdir() if p.is_file()):
        return False
    return all((left / n).read_bytes() == (right / n).read_bytes() for n in names)


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


def golden_cases(workspace: Path, task: Task, state: StateDocument) -> list[dict[str, str]]:
    """The task's golden cases; drawn ones only where every arm of v0.1.0 is right."""
    cases = task.golden_cases()
    if (task.folder / "golden.json").is_file():
        return cases
    arms = list(state.data.get("strategy", {}).get("arms", {})) or [None]
    texts = [case["text"] for case in cases]
    right = [True] * len(cases)
    with agent_process(workspace, texts, "micro") as agent:
        for arm in arms:
            answers = agent.route(state, arm)
            right = [
                ok and got == c["intent"] for ok, got, c in zip(right, answers, cases, strict=True)
            ]
    return [case for case, ok in zip(cases, right, strict=True) if ok][:DRAWN_GOLDEN]


def _budgets_with_slos(workspace: Path, task: Task) -> dict[str, Any] | None:
    """``ci/budgets.json`` with the task's objectives over its ``slos``; None: no overrides."""
    slos = task.manifest.slos
    if slos == type(slos)():
        return None
    budgets: dict[str, Any] = json.loads((workspace / BUDGETS_FILE).read_text())
    section = budgets.setdefault("slos", {})
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
