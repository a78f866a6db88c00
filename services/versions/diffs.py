"""Comparing two releases: the files they differ in and a compact state diff.

The state diff walks both ``state/active.state.json`` documents and lists the
leaves that changed as JSON Pointers (``/data/parameters/blend_weight``), with
the value before and after: what a person reviewing a Tuner patch wants to
see, without the thousand unchanged lines around it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ratchet.vcs import Release

from . import gitread
from .models import StateChange, StateDiff, VersionDiff

STATE_PATH = "state/active.state.json"
STATE_CHANGES_LIMIT = 300


def pointer_token(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def json_changes(
    before: Any, after: Any, limit: int = STATE_CHANGES_LIMIT
) -> tuple[list[StateChange], bool]:
    """Changed leaves from ``before`` to ``after``, sorted by path; True if truncated.

    Objects are compared key by key and lists index by index (an appended
    rule is one ``added`` entry); anything else that differs, including a
    change of type (``1`` to ``1.0`` or ``true``), is one ``changed`` entry.
    """
    changes: list[StateChange] = []

    def walk(path: str, old: Any, new: Any) -> None:
        if isinstance(old, dict) and isinstance(new, dict):
            for key in sorted(old.keys() | new.keys()):
                here = f"{path}/{pointer_token(str(key))}"
                if key not in old:
                    changes.append(StateChange(path=here, op="added", after=new[key]))
                elif key not in new:
                    changes.append(StateChange(path=here, op="removed", before=old[key]))
                else:
                    walk(here, old[key], new[key])
        elif isinstance(old, list) and isinstance(new, list):
            for i in range(max(len(old), len(new))):
                here = f"{path}/{i}"
                if i >= len(old):
                    changes.append(StateChange(path=here, op="added", after=new[i]))
                elif i >= len(new):
                    changes.append(StateChange(path=here, op="removed", before=old[i]))
                else:
                    walk(here, old[i], new[i])
        elif type(old) is not type(new) or old != new:
            changes.append(StateChange(path=path, op="changed", before=old, after=new))

    walk("", before, after)
    return changes[:limit], len(changes) > limit


def diff_releases(workspace: Path, release: Release, against: Release) -> VersionDiff:
    """What changed from ``against`` to ``release`` (either may be the older)."""
    files, files_truncated = gitread.changed_files(workspace, against.commit, release.commit)
    before = gitread.json_at(workspace, against.commit, STATE_PATH)
    after = gitread.json_at(workspace, release.commit, STATE_PATH)
    changes, truncated = json_changes(
        {} if before is None else before, {} if after is None else after
    )
    return VersionDiff(
        version=release.version,
        against=against.version,
        commit=release.commit,
        against_commit=against.commit,
        files=list(files),
        files_truncated=files_truncated,
        state=StateDiff(path=STATE_PATH, changes=changes, truncated=truncated),
    )
