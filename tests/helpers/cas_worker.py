"""Child processes that hammer one staging document (run with ``python -m``).

``increment DESC N``: N compare-and-swap increments of ``data.counter``.
``forever DESC``: increments until killed; prints ``started`` first.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from ratchet.state import StateManager
from tests.helpers.stores import reopen


def _bump(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "counter": int(data.get("counter", 0)) + 1}


def main() -> None:
    mode, description = sys.argv[1], json.loads(sys.argv[2])
    manager = StateManager(reopen(description))
    if mode == "increment":
        for _ in range(int(sys.argv[3])):
            manager.update_staging(_bump, actor="worker")
        return
    print("started", flush=True)
    while True:
        manager.update_staging(_bump, actor="worker")


if __name__ == "__main__":
    main()
