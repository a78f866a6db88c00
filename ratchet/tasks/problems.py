"""A problem with a task: the file and line it is on, and what is wrong."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ratchet.errors import RatchetError

MAX_SHOWN = 50  # problems printed in an error; the rest are counted


@dataclass(frozen=True, slots=True)
class Problem:
    file: str  # relative to the task folder (or the CSV being imported)
    line: int | None  # 1-based, as an editor shows it; None for the file as a whole
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.message}"


class TaskError(RatchetError):
    """A task folder or CSV that cannot be used, with every problem found."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__(describe(source, self.problems))


def describe(source: str, problems: Sequence[Problem]) -> str:
    shown = [f"  {problem}" for problem in problems[:MAX_SHOWN]]
    if len(problems) > MAX_SHOWN:
        shown.append(f"  ... and {len(problems) - MAX_SHOWN} more")
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
    return "\n".join([f"{source}: {count}", *shown])
