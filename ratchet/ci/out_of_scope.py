"""What a tier reports of a task with out-of-scope rows, and the optional gates on it.

An out-of-scope answer is the task's out-of-scope label as the intent, so the
overall accuracy needs nothing special: an out-of-scope row is right when it
was answered out of scope. Beside it, for a task with such rows:

- ``in_scope_accuracy``: accuracy over the in-scope rows;
- ``oos_recall``: the share of out-of-scope rows answered out of scope;
- ``oos_precision``: the share of out-of-scope answers that were out-of-scope rows.

A share with nothing to count (no out-of-scope row, no out-of-scope answer) is
None: not measured, and a gate on it fails. The gates are optional keys of
``budgets`` (``min_in_scope_accuracy``, ``min_oos_recall``,
``min_oos_precision``): absent, the figure is reported and not gated.
"""

from __future__ import annotations

from collections.abc import Sequence

from ratchet.ci.budgets import Gates, at_least
from ratchet.datasets import Example
from ratchet.tasks import Task

METRICS = ("in_scope_accuracy", "oos_recall", "oos_precision")


def _share(hits: int, total: int) -> float | None:
    return round(hits / total, 6) if total else None


def scope_metrics(
    examples: Sequence[Example], answers: Sequence[str | None], oos_label: str
) -> dict[str, float | None]:
    """The three figures of ``answers`` (None: the call failed, wrong) against ``examples``."""
    pairs = [(e.intent, got) for e, got in zip(examples, answers, strict=True)]
    oos_rows = [got for want, got in pairs if want == oos_label]
    said_oos = [want for want, got in pairs if got == oos_label]
    inside = [(want, got) for want, got in pairs if want != oos_label]
    return {
        "in_scope_accuracy": _share(sum(want == got for want, got in inside), len(inside)),
        "oos_recall": _share(sum(got == oos_label for got in oos_rows), len(oos_rows)),
        "oos_precision": _share(sum(want == oos_label for want in said_oos), len(said_oos)),
    }


def scope_reasons(prefix: str, metrics: dict[str, float | None], gates: Gates) -> list[str]:
    """A reason per gated figure under its floor (only the gates the budgets declare)."""
    reasons: list[str] = []
    for name in METRICS:
        floor = getattr(gates, f"min_{name}")
        if floor is not None:
            reasons += at_least(f"{prefix}_{name}", metrics.get(name), floor)
    return reasons


def judged(
    prefix: str,
    examples: Sequence[Example],
    answers: Sequence[str | None],
    oos_label: str | None,
    gates: Gates,
) -> tuple[dict[str, float | None], list[str]]:
    """The figures named ``<prefix>_<figure>`` and the reasons a gate fails; nothing for a
    task without out-of-scope rows (``oos_label`` None)."""
    if oos_label is None:
        return {}, []
    metrics = scope_metrics(examples, answers, oos_label)
    named = {f"{prefix}_{name}": value for name, value in metrics.items()}
    return named, scope_reasons(prefix, metrics, gates)


def oos_label_of(task: Task) -> str | None:
    """The label a tier measures out-of-scope figures for: None unless the task has such rows."""
    return task.oos_label if task.has_oos() else None
