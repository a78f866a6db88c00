"""The ``patch`` coder: the feedback carries a unified diff, applied all-or-nothing.

``git apply --check`` first, so a diff that does not apply cleanly changes
nothing; then ``git apply``. The same parser answers at intake
(:func:`check_diff`), so a malformed diff is a 400, not a failed job.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from .base import Coder, CoderError, CodingRequest, Proposal


def _git_apply(args: list[str], diff: str, cwd: Path | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "apply", *args, "-"],
        input=diff,
        cwd=cwd or tempfile.gettempdir(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return "; ".join(lines[:3]) or "no reason given"


def check_diff(diff: str) -> list[str]:
    """The paths a unified diff touches; ValueError with git's reason if it is malformed."""
    if not diff.strip():
        raise ValueError("the patch is empty")
    done = _git_apply(["--numstat"], diff, None)
    if done.returncode != 0:
        raise ValueError(f"malformed diff: {_first_line(done.stderr)}")
    paths = [line.split("\t", 2)[2] for line in done.stdout.splitlines() if line.count("\t") >= 2]
    if not paths:
        raise ValueError("malformed diff: no file changes found in it")
    return paths


class PatchCoder(Coder):
    name = "patch"
    must_improve = False  # a human's diff: passing and not regressing is enough
    autonomous = False  # a human wrote it: it runs, with a warning, where there is no sandbox

    def propose(self, request: CodingRequest, worktree: Path, index: int) -> Proposal:
        if not request.patch:
            raise CoderError(
                "the patch coder needs a unified diff: send it as `patch` with the feedback"
            )
        try:
            paths = check_diff(request.patch)
        except ValueError as exc:
            raise CoderError(str(exc)) from None
        check = _git_apply(["--check", "--whitespace=nowarn"], request.patch, worktree)
        if check.returncode != 0:
            raise CoderError(
                f"the diff does not apply to {request.base_version}: {_first_line(check.stderr)}"
            )
        applied = _git_apply(["--whitespace=nowarn"], request.patch, worktree)
        if applied.returncode != 0:  # --check passed: only a race or a full disk gets here
            raise CoderError(f"git apply failed: {_first_line(applied.stderr)}")
        return Proposal(
            summary=f"applied the feedback's diff ({len(paths)} file(s))",
            log=[f"changed {path}" for path in paths],
        )
