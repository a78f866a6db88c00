"""The path policy: which files each author may change in a release, and how.

Enforced in code, so a self-improving writer cannot pass its gates by editing
them: the Tuner writes only ``state/``; the Architect only the editable code,
state, tests, examples and ``ci/budgets.json``, never the static core, the
datasets or the CI harness. Humans are not restricted.

The finer rails (:func:`check_change`) look at contents, not just paths:
``ci/budgets.json`` may only be tightened;
existing golden cases and tests may not be removed or altered unless the
feedback explicitly authorises it (``authorize: test-changes``), and then
the release notes say so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ratchet.errors import PolicyError

WRITABLE: dict[str, tuple[str, ...]] = {
    "tuner": ("state/",),
    "architect": (
        "services/runner/",
        "services/tuner/",
        "state/",
        "tests/",
        "examples/",
        "ci/budgets.json",
    ),
}
READ_ONLY: dict[str, tuple[str, ...]] = {
    "architect": ("tasks/",),
}
EXACT_FILES = frozenset({"ci/budgets.json"})  # writable as a file, not as a prefix


def check_paths(author: str, paths: Iterable[str]) -> None:
    """PolicyError naming every path ``author`` may not change."""
    if author == "human":
        return
    if author not in WRITABLE:
        raise PolicyError(f"unknown author {author!r}: expected tuner, architect or human")
    refused = sorted(
        path
        for path in paths
        if path.startswith("/")
        or ".." in path.split("/")
        or not _writable(author, path)
        or path.startswith(READ_ONLY.get(author, ()))
    )
    if refused:
        raise PolicyError(
            f"{author} may not change {', '.join(refused)} "
            f"(writable: {', '.join(WRITABLE[author])})"
        )


def _writable(author: str, path: str) -> bool:
    return any(
        path == prefix if prefix in EXACT_FILES else path.startswith(prefix)
        for prefix in WRITABLE[author]
    )


# -- the finer rails: contents, not just paths ------------------------------------

BUDGETS = "ci/budgets.json"
GOLDEN = "tests/golden/"
TEST_CHANGES = "test-changes"
_AUTHORISE = re.compile(r"^\s*authori[sz]e:\s*(?P<what>[a-z, -]+?)\s*$", re.I | re.M)
_TEST_FUNCTION = re.compile(r"^\s*(?:async\s+)?def\s+(test_\w+)", re.M)
# Budget fields that may only go up (a higher bar) or only go down (a tighter cap).
_RAISE_ONLY = re.compile(r"^(min_\w+|objective)$")
_LOWER_ONLY = re.compile(r"^(max_\w+|time_limit_s|memory_limit_mb|noise_margin|threshold)$")


@dataclass(frozen=True, slots=True)
class FileChange:
    """One changed file: its contents before (None: added) and after (None: deleted)."""

    path: str
    old: bytes | None
    new: bytes | None


def authorisations(feedback: str) -> frozenset[str]:
    """What the feedback explicitly authorises, from lines ``authorize: test-changes``."""
    found: set[str] = set()
    for match in _AUTHORISE.finditer(feedback):
        found.update(part.strip().lower() for part in match["what"].split(","))
    return frozenset(found - {""})


def check_change(
    author: str, changes: Sequence[FileChange], *, authorised: Iterable[str] = ()
) -> list[str]:
    """PolicyError if ``author`` may not make ``changes``; else the authorised exceptions
    used (for the release notes), e.g. ``["removed golden case 'x' (authorised)"]``."""
    check_paths(author, [c.path for c in changes])
    if author == "human":
        return []
    problems: list[str] = []
    guarded: list[str] = []
    for change in changes:
        if change.path == BUDGETS:
            problems += budget_loosenings(change.old, change.new)
        elif change.path.startswith(GOLDEN):
            guarded += removed_golden_cases(change)
        elif change.path.startswith("tests/"):
            guarded += removed_tests(change)
    if guarded and TEST_CHANGES not in set(authorised):
        problems += [
            f"{g} (existing tests and golden cases stay unless the feedback says "
            f"'authorize: {TEST_CHANGES}')"
            for g in guarded
        ]
    if problems:
        raise PolicyError(f"{author} may not: " + "; ".join(problems))
    return [f"{g} (authorised by the feedback)" for g in guarded]


def budget_loosenings(old: bytes | None, new: bytes | None) -> list[str]:
    """Every way ``new`` budgets are looser than ``old`` (tightening only is allowed)."""
    if old is None:
        return [] if new is None else [f"add {BUDGETS} (it is a human's file)"]
    if new is None:
        return [f"delete {BUDGETS}"]
    try:
        before, after = json.loads(old), json.loads(new)
    except ValueError as exc:
        return [f"write {BUDGETS} that is not JSON ({exc})"]
    return [f"loosen {BUDGETS}: {problem}" for problem in _looser(before, after, "")]


def _looser(old: Any, new: Any, where: str) -> list[str]:
    if isinstance(old, dict):
        if not isinstance(new, dict):
            return [f"{where or 'the document'} is no longer an object"]
        found: list[str] = []
        for key, value in old.items():
            path = f"{where}.{key}" if where else key
            if key not in new:
                found.append(f"{path} removed")
            else:
                found += _looser(value, new[key], path)
        return found  # new keys are new gates: allowed
    if old == new:
        return []
    name = where.rsplit(".", 1)[-1]
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (old, new))
    if numbers and _RAISE_ONLY.match(name):
        return [] if new >= old else [f"{where} lowered from {old} to {new}"]
    if numbers and _LOWER_ONLY.match(name):
        return [] if new <= old else [f"{where} raised from {old} to {new}"]
    return [f"{where} changed from {old!r} to {new!r} (not a known tightening)"]


def removed_golden_cases(change: FileChange) -> list[str]:
    """Existing golden cases removed or altered (new cases may be added)."""
    if change.old is None:
        return []
    if change.new is None:
        return [f"delete {change.path}"]
    try:
        before = json.loads(change.old)["cases"]
        after = json.loads(change.new)["cases"]
    except (ValueError, KeyError, TypeError):
        return [] if change.old == change.new else [f"rewrite {change.path}"]
    kept = {json.dumps(case, sort_keys=True) for case in after}
    return [
        f"remove or alter golden case {case.get('text', case)!r} in {change.path}"
        for case in before
        if json.dumps(case, sort_keys=True) not in kept
    ]


def removed_tests(change: FileChange) -> list[str]:
    """An existing test file deleted, or test functions removed from it."""
    if change.old is None or not change.path.endswith(".py"):
        return []
    if change.new is None:
        return [f"delete {change.path}"]
    before = set(_TEST_FUNCTION.findall(change.old.decode(errors="replace")))
    after = set(_TEST_FUNCTION.findall(change.new.decode(errors="replace")))
    return [f"remove test {name} from {change.path}" for name in sorted(before - after)]
