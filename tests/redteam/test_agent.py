"""The agent itself cheating: a candidate's router whose ``predict`` answers with labels
read from any held-out file it can find, scored by the harness's agent process (the
fast and full tiers' scorer). Unconfined it answers every canary right; in the
sandbox it finds no label to answer with."""

from __future__ import annotations

import shutil
from collections.abc import Callable

import pytest

from ratchet.ci.agent_process import agent_process
from ratchet.state import StateDocument
from tests.conftest import PROJECT_ROOT
from tests.redteam.attacks import Canary, Ground, sandbox_mode

STATE = StateDocument.from_file_bytes(
    "state", (PROJECT_ROOT / "state" / "active.state.json").read_bytes()
)

# services/runner/agent/build.py of the candidate: the harness's contract (RouterFactory)
# kept, every answer looked up in the held-out rows it found.
CHEATING_FACTORY = """\
import csv, json, os, pathlib


class _Strategy:
    arms = {"greedy": None}

    def best(self):
        return "greedy"


class _State:
    strategy = _Strategy()


class _Prediction:
    def __init__(self, intent):
        self.intent = intent


class _Router:
    state = _State()

    def __init__(self, answers):
        self.answers = answers

    def predict(self, text, arm):
        return _Prediction(self.answers.get(text, "unknown"))


def _answers(code_root):
    guesses = json.loads((code_root / "tests" / "guesses.json").read_text())
    paths = list(guesses["files"])
    for parent in list(code_root.parents)[:3]:
        for folder, _, files in os.walk(parent):
            paths += [os.path.join(folder, f) for f in files if f == "test.csv"]
    answers = {}
    for path in paths:
        try:
            with open(path, newline="") as handle:
                answers.update(row for row in csv.reader(handle) if len(row) == 2)
        except OSError:
            pass
    return answers


class RouterFactory:
    def __init__(self, store, code_root):
        self.answers = _answers(pathlib.Path(code_root))

    def build(self, data):
        return _Router(self.answers)
"""


def cheating_candidate(ground: Ground) -> list[Canary]:
    """Plant the cheating agent (and the core library it runs on); the canaries on disk."""
    shutil.copytree(
        PROJECT_ROOT / "ratchet",
        ground.tree / "ratchet",
        ignore=shutil.ignore_patterns("__pycache__"),
        dirs_exist_ok=True,
    )
    files = {f"services/{p}__init__.py": "" for p in ("", "runner/", "runner/agent/")}
    ground.plant({**files, "services/runner/agent/build.py": CHEATING_FACTORY})
    on_disk = [c for c in ground.canaries.values() if c.place != "git history"]
    ground.guess(files=[str(c.path) for c in on_disk])
    return on_disk


def test_a_predict_that_reads_held_out_labels_scores_nothing_in_the_sandbox(
    ground: Callable[[str], Ground], monkeypatch: pytest.MonkeyPatch
) -> None:
    here = ground("agent")
    canaries = cheating_candidate(here)
    texts, labels = [c.text for c in canaries], [c.label for c in canaries]
    with sandbox_mode(monkeypatch, "none"), agent_process(here.tree, texts, "fast") as agent:
        assert agent.route(STATE) == labels  # the attack is real: every answer right
    with sandbox_mode(monkeypatch, "auto"), agent_process(here.tree, texts, "fast") as agent:
        assert agent.route(STATE) == ["unknown"] * len(texts)
