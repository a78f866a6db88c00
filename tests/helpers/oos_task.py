"""A tree serving ``tests/fixtures/tasks/oos-toy``: four intents and out-of-scope rows.

The toy task is small enough to train in milliseconds, and its out-of-scope
messages share no word with the intents but the filler ("please", "could
you"), so a router that may abstain can be told apart from one that may not.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import PROJECT_ROOT

FIXTURE = PROJECT_ROOT / "tests" / "fixtures" / "tasks" / "oos-toy"
NAME = "oos-toy"
OOS = "oos"


def serving_tree(root: Path, *, with_code: bool = False) -> Path:
    """``root`` made a code root serving the toy task (``tasks/active.json`` and its folder).

    With ``with_code`` the project's ``ratchet``, ``services`` and ``ci`` are copied in,
    so an agent process (a tier, the Tuner's scorer) or a Runner can run from it
    (copied, not linked: a Runner finds its tree from its own resolved file path).
    """
    shutil.copytree(FIXTURE, root / "tasks" / NAME)
    (root / "tasks" / "active.json").write_text(json.dumps({"task": NAME}))
    if with_code:
        for name in ("ratchet", "services", "ci"):
            shutil.copytree(
                PROJECT_ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__")
            )
    return root
