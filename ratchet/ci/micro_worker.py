"""Child process of the micro tier: routes the given texts with the given state.

Runs with the candidate's code root first on ``sys.path``; prints the intents
as a JSON list, or fails (non-zero exit, reason on stderr) if the agent
refuses the state. It grades nothing: the harness compares.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> None:
    state_path, texts_path, code_root = (Path(arg) for arg in sys.argv[1:4])
    from ratchet.objects import FilesystemObjectStore
    from services.runner.agent.build import RouterFactory

    data = json.loads(state_path.read_text())["data"]
    with_cache = FilesystemObjectStore(state_path.parent / "artifacts")
    router = RouterFactory(with_cache, code_root).build(data)
    arm = router.state.strategy.best()  # what a release is judged on: the greedy arm
    texts = json.loads(texts_path.read_text())
    json.dump([router.predict(text, arm).intent for text in texts], sys.stdout)


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # one line for the harness's reason; no traceback
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        reason = "; ".join(line for line in lines[:5] if not line.startswith("For further"))
        sys.stderr.write(f"{type(exc).__name__}: {reason}\n")
        sys.exit(2)
