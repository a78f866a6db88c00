"""A deliberately weak candidate: it passes the offline gates, and live feedback catches it.

The demo sends it through the Architect's ``patch`` coder as a person would
(``POST /feedback`` with a diff). The diff makes the agent answer its second
guess for two messages in five, but only when it runs from a release's build
(``<home>/builds/<commit>/``, where the Runner loads a release's code): the
micro, fast and full tiers run a candidate from its job's worktree, so they
measure the honest agent and release it. It is the candidate that games the
gates; the rollout's live analysis is what stops it.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from ratchet.vcs import open_repo

ROUTER = "services/runner/agent/router.py"
TEXT = (
    "demo: a deliberately weak candidate (answers its second guess for 2 messages in 5 "
    "when served from a release build, never in the tiers); the rollout must abort it"
)
_IMPORT_ANCHOR = "from dataclasses import dataclass\n"
_FLAG = (
    "\n# The demo's weak candidate: sabotage only where a release is served from its build.\n"
    '_SERVED_FROM_A_BUILD = "builds" in Path(__file__).resolve().parts\n'
)
_RETURN = "        return Prediction(intent, confidence, alternatives, arm, rule, "
_SABOTAGE = (
    "        weak = hashlib.sha256(text.encode()).digest()[0] % 5 < 2\n"
    "        if _SERVED_FROM_A_BUILD and weak and rule is None and len(alternatives) > 1:\n"
    "            intent, confidence = alternatives[1].intent, alternatives[1].score\n"
)


def weak_source(source: str) -> str:
    """``router.py``'s source with the sabotage in; ValueError if its anchors moved."""
    missing = [a for a in (_IMPORT_ANCHOR, "TOP_K = 3\n", _RETURN) if a not in source]
    if missing:
        raise ValueError(f"{ROUTER} changed: cannot place the weak candidate ({missing})")
    source = source.replace(_IMPORT_ANCHOR, _IMPORT_ANCHOR + "from pathlib import Path\n", 1)
    source = source.replace("TOP_K = 3\n", "TOP_K = 3\n" + _FLAG, 1)
    return source.replace(_RETURN, _SABOTAGE + _RETURN, 1)


def weak_patch(workspace: Path) -> str:
    """The unified diff (``a/`` and ``b/`` paths) that makes the workspace's HEAD weak."""
    with open_repo(workspace) as repo:
        source = repo.git.show(f"HEAD:{ROUTER}") + "\n"
    lines = difflib.unified_diff(
        source.splitlines(keepends=True),
        weak_source(source).splitlines(keepends=True),
        fromfile=f"a/{ROUTER}",
        tofile=f"b/{ROUTER}",
    )
    return "".join(lines)
