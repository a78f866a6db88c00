"""Child process of the harness: routes the harness's texts with each state it is sent.

Runs with the candidate's code root first on ``sys.path``. Reads one JSON
request per line (``{"state": {...}, "arm": name?}``), answers one line per
request: the intent of every text, routed with the named arm or else the
state's greedy arm, or ``{"error": reason}`` if the agent refuses the state or
the arm. It grades nothing: the harness compares.

The agent is found by name at run time (:data:`AGENT_FACTORY`), not imported
at the top: this module is the static harness, the agent is the code root's
Runner (Architect-editable, a candidate's or a release's), and the core
library imports no service.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

# The harness's contract with the agent code of a code root: a class built as
# ``RouterFactory(store, code_root)``, shaped like :class:`AgentFactory` below.
AGENT_FACTORY = ("services.runner.agent.build", "RouterFactory")


class _Strategy(Protocol):
    @property
    def arms(self) -> Mapping[str, object]: ...

    def best(self) -> str: ...


class _State(Protocol):
    @property
    def strategy(self) -> _Strategy: ...


class _Prediction(Protocol):
    @property
    def intent(self) -> str: ...


class _Router(Protocol):
    @property
    def state(self) -> _State: ...

    def predict(self, text: str, arm: str) -> _Prediction: ...


class AgentFactory(Protocol):
    """What the worker uses of the agent: a router for each state it is sent."""

    def build(self, data: dict[str, Any]) -> _Router: ...


def _reason(exc: Exception) -> str:
    """One line for the harness; no traceback."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: " + "; ".join(
        line for line in lines[:5] if not line.startswith("For further")
    )


def main() -> None:
    texts_path, cache_dir, code_root = (Path(arg) for arg in sys.argv[1:4])
    from ratchet.objects import FilesystemObjectStore

    module, name = AGENT_FACTORY
    texts = json.loads(texts_path.read_text())
    factory: AgentFactory = getattr(importlib.import_module(module), name)(
        FilesystemObjectStore(cache_dir), code_root
    )
    for line in sys.stdin:
        try:
            request = json.loads(line)
            router = factory.build(request["state"]["data"])
            arm = request.get("arm") or router.state.strategy.best()
            if arm not in router.state.strategy.arms:
                raise ValueError(f"the state declares no arm {arm!r}")
            answer: dict[str, object] = {"intents": [router.predict(t, arm).intent for t in texts]}
        except Exception as exc:  # the agent refused the state: say why, serve the next
            answer = {"error": _reason(exc)}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
