"""Child process of the harness: routes the harness's texts with each state it is sent.

Runs with the candidate's code root first on ``sys.path``. Reads one JSON
request per line (``{"state": {...}, "arm": name?}``), answers one line per
request: the intent of every text, routed with the named arm or else the
state's greedy arm, or ``{"error": reason}`` if the agent refuses the state or
the arm. It grades nothing: the harness compares.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _reason(exc: Exception) -> str:
    """One line for the harness; no traceback."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: " + "; ".join(
        line for line in lines[:5] if not line.startswith("For further")
    )


def main() -> None:
    texts_path, cache_dir, code_root = (Path(arg) for arg in sys.argv[1:4])
    from ratchet.objects import FilesystemObjectStore
    from services.runner.agent.build import RouterFactory

    texts = json.loads(texts_path.read_text())
    factory = RouterFactory(FilesystemObjectStore(cache_dir), code_root)
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
