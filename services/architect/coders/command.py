"""The ``command`` coder: a configured coding CLI edits the worktree; its diff is the candidate.

The CLI gets the feedback (and the Triggerer's evidence) as its prompt, as an
argument where the argv holds ``{prompt}`` or on stdin otherwise. It runs in
the candidate's worktree in a process group of its own, with only PATH, HOME,
the locale, TMPDIR and the configured environment (never the Architect's
token; plus the harness's ``HARNESS_CHILD_TOKEN`` marker), under a timeout
after which the whole group is killed (so is whatever it leaves running when
it exits). It is a harness child (:mod:`ratchet.ci.children`): it dies with
the Architect, and what it left running is reaped after a crash. What it
changed is then checked like any candidate (policy, tiers); a CLI that fails
or changes nothing yields no candidate, with the tail of its output as the
reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Self

from ratchet.ci.children import start

from ..settings import ArchitectSettings
from .base import Coder, CoderError, CodingRequest, Proposal

PLACEHOLDER = "{prompt}"
TAIL_CHARS = 1500
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")


def prompt_of(request: CodingRequest) -> str:
    """What the CLI is asked to do: the feedback, the evidence, the rules of the game."""
    parts = [
        f"Change this repository (version {request.base_version}) to address the feedback below.",
        "Edit files in place; do not commit. Only services/runner/, services/tuner/, state/, "
        "tests/ (adding cases) and examples/ may change; ci/budgets.json may only be tightened.",
        "",
        "Feedback:",
        request.text,
    ]
    if request.evidence:
        parts += ["", "Evidence:", json.dumps(request.evidence, indent=2, sort_keys=True)]
    return "\n".join(parts) + "\n"


def _tail(output: str) -> str:
    text = output.strip()
    return ("…" + text[-TAIL_CHARS:]) if len(text) > TAIL_CHARS else (text or "(no output)")


def _changed(worktree: Path) -> list[str]:
    done = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=worktree,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [line[3:] for line in done.stdout.splitlines() if line.strip()]


class CommandCoder(Coder):
    name = "command"

    def __init__(
        self, argv: list[str], *, timeout: float = 900.0, env: dict[str, str] | None = None
    ) -> None:
        if not argv:
            raise ValueError("the command coder needs an argv list")
        self.argv = list(argv)
        self.timeout = timeout
        self.env = dict(env or {})

    @classmethod
    def from_settings(cls, settings: ArchitectSettings) -> Self:
        if not settings.command:
            raise CoderError("the command coder needs RATCHET_ARCHITECT_COMMAND (a JSON argv list)")
        return cls(settings.command, timeout=settings.command_timeout, env=settings.command_env)

    def _environment(self) -> dict[str, str]:
        inherited = {k: v for k in _INHERITED if (v := os.environ.get(k)) is not None}
        return {**inherited, **self.env}

    def propose(self, request: CodingRequest, worktree: Path, index: int) -> Proposal:
        prompt = prompt_of(request)
        in_argv = any(PLACEHOLDER in arg for arg in self.argv)
        argv = [arg.replace(PLACEHOLDER, prompt) for arg in self.argv]
        # Output to a file, not a pipe: a child the CLI leaves behind would hold a pipe
        # open and keep us waiting after the CLI itself has exited.
        with tempfile.TemporaryFile("w+") as out:
            try:
                child = start(  # a harness child: its own group, dies with the Architect
                    argv,
                    cwd=worktree,
                    env=self._environment(),
                    stdin=subprocess.DEVNULL if in_argv else subprocess.PIPE,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            except OSError as exc:
                raise CoderError(f"cannot start {self.argv[0]!r}: {exc}") from None
            process = child.process
            timed_out = False
            try:
                process.communicate(None if in_argv else prompt, timeout=self.timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                child.stop(grace=0)  # what it left running (its group, its token), or all
            out.seek(0)
            output = out.read()
        if timed_out:
            raise CoderError(
                f"{self.argv[0]} timed out after {self.timeout:g} s (process group killed); "
                f"its output ends: {_tail(output)}"
            )
        if process.returncode != 0:
            raise CoderError(
                f"{self.argv[0]} exited with {process.returncode}; its output ends: {_tail(output)}"
            )
        changed = _changed(worktree)
        if not changed:
            raise CoderError(f"{self.argv[0]} changed nothing; its output ends: {_tail(output)}")
        return Proposal(
            summary=f"{self.argv[0]} changed {len(changed)} file(s)",
            log=[*(f"changed {path}" for path in changed), _tail(output)],
        )
