"""Dev-split accuracy of candidate states, for the tuning algorithms that need a score.

States are scored by the active release's agent code (its commit-scoped
build) in a child process with the fast tier's limits, never inside the
Tuner. Tuning reads only the train and dev splits; the held-out split is for
the full tier alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ratchet import datasets
from ratchet.builds import BuildStore
from ratchet.ci.agent_process import agent_process
from ratchet.state import StateManager

Score = Callable[[dict[str, Any]], float]


def active_code_root(manager: StateManager, builds: BuildStore, local_root: Path) -> Path:
    """The code the active release serves with (this checkout before the first release)."""
    active = manager.read_active()
    commit = active.pointer.commit if active else None
    return builds.ensure(commit) if commit else local_root


class DevScorer:
    def __init__(self, manager: StateManager, builds: BuildStore, local_root: Path) -> None:
        self.manager = manager
        self.builds = builds
        self.local_root = local_root

    def code_root(self) -> Path:
        return active_code_root(self.manager, self.builds, self.local_root)

    @contextmanager
    def session(self) -> Iterator[Score]:
        """A scorer of state ``data`` (dev accuracy); one agent process serves every call."""
        dev = datasets.load(self.local_root, "dev")
        with agent_process(self.code_root(), [e.text for e in dev], "fast") as agent:

            def score(data: dict[str, Any]) -> float:
                intents = agent.route({"data": data})
                right = sum(got == e.intent for got, e in zip(intents, dev, strict=True))
                return right / len(dev)

            yield score
