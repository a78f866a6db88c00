"""The path policy: which files each author may change in a release.

Enforced where releases are made (:meth:`ratchet.vcs.ReleaseStore.release`
checks what is actually staged), so a self-improving writer cannot pass its
gates by editing them: the Tuner writes only ``state/``; the Architect only
the editable code, state, tests and examples, never the static core, the
datasets, the golden cases or the CI harness. Humans are not restricted.
Finer rails belong to the Architect's policy check: until it exists the
Architect may not touch ``ci/`` at all (later: budgets may only tighten), nor
golden cases (later: only when the feedback authorises it).
"""

from __future__ import annotations

from collections.abc import Iterable

from ratchet.errors import PolicyError

WRITABLE: dict[str, tuple[str, ...]] = {
    "tuner": ("state/",),
    "architect": ("services/runner/", "services/tuner/", "state/", "tests/", "examples/"),
}
READ_ONLY: dict[str, tuple[str, ...]] = {
    "architect": ("tests/datasets/", "tests/golden/"),
}


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
        or not path.startswith(WRITABLE[author])
        or path.startswith(READ_ONLY.get(author, ()))
    )
    if refused:
        raise PolicyError(
            f"{author} may not change {', '.join(refused)} "
            f"(writable: {', '.join(WRITABLE[author])})"
        )
