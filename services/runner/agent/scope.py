"""When no intent fits: the task's out-of-scope label and reply, and the abstain rule.

A task may declare out-of-scope rows (``oos_label`` in its manifest); only a
task that has some may abstain, so a task without them never answers "out of
scope" whatever the state's ``abstain_threshold`` says. The rule itself is the
state's: abstain when the answering arm's best confidence is below the
threshold (0, the first state's value, never abstains).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ratchet import datasets


@dataclass(frozen=True, slots=True)
class Scope:
    """What an out-of-scope answer says: the task's reserved label and its reply."""

    label: str
    reply: str

    def abstains(self, confidence: float, threshold: float) -> bool:
        return confidence < threshold


def scope_of(project_root: Path) -> Scope | None:
    """The scope of the task ``project_root`` serves; None if it has no out-of-scope rows."""
    task = datasets.task(project_root)
    if task.oos_label is None or not task.has_oos():
        return None
    return Scope(task.oos_label, task.manifest.oos_reply)
