"""``ratchet demo``: the main loop end to end on a fresh home, with progress bars and a report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from fleet.demo import DemoPlan, DemoResult, Scenario
from fleet.demo.report import percent
from ratchet.bootstrap import requested_task
from ratchet.config import CommonSettings, load
from ratchet.errors import RatchetError

console = Console()
DEFAULT_HOME = Path(".ratchet-demo")


class RichProgress:
    """The scenario's phases as Rich progress bars; notes printed above them."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None

    def phase(self, name: str, total: int | None = None) -> None:
        if self.task is not None:
            done: float = self.progress.tasks[-1].total or 1.0  # the last phase is complete
            self.progress.update(self.task, completed=done, total=done)
        self.task = self.progress.add_task(name, total=total)

    def advance(self, steps: int = 1) -> None:
        if self.task is not None:
            self.progress.advance(self.task, steps)

    def note(self, text: str) -> None:
        self.progress.console.print(f"  {text}")


def demo(
    home: Annotated[
        Path, typer.Option(help="A fresh home folder for the demo's fleet (must not exist yet).")
    ] = DEFAULT_HOME,
    rounds: Annotated[int, typer.Option(help="Learning rounds (one patch release each).")] = 2,
    turns: Annotated[int, typer.Option(help="Turns routed per learning round.")] = 800,
    heldout_sample: Annotated[
        int, typer.Option(help="Held-out examples the full tier routes (0: the whole split).")
    ] = 0,
    task: Annotated[
        str | None,
        typer.Option(
            help="The task the demo's home serves: a built-in task's name (banking77, hwu64) "
            "or a task folder (default: RATCHET_TASK, else the project's, banking77)."
        ),
    ] = None,
) -> None:
    """Run the fleet on a fresh home: learn, degrade, wake the Architect, report.

    Replays the task's training traffic through MCP clients with delayed
    corrections, lets the Tuner release patches, shifts traffic toward new
    wording of the intents routed worst, lets the Triggerer wake the Architect
    for a minor release, then prints each release's dev and held-out accuracy
    and writes a chart (PNG) and an HTML report into the home folder.
    """
    if home.exists() and any(home.iterdir()):
        console.print(
            f"[red]error:[/red] {home} is not empty; the demo runs on a fresh home "
            "(remove it or pass --home)"
        )
        raise typer.Exit(2)
    try:
        settings = load(CommonSettings, home=home, **({"task": task} if task else {}))
        requested_task(settings)  # a bad task fails here, before anything is created
    except RatchetError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    plan = DemoPlan(learn_rounds=rounds, turns_per_round=turns, heldout_sample=heldout_sample)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as bars:
        try:
            result = Scenario(settings, plan, RichProgress(bars)).run()
        except RatchetError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from None
    show(result)


def show(result: DemoResult) -> None:
    table = Table(
        "release",
        "kind",
        "author",
        "dev accuracy",
        "held-out accuracy",
        "note",
        title=f"task {result.task}",
    )
    for row in result.releases:
        mark = " (active)" if row.version == result.active else ""
        table.add_row(
            row.version + mark,
            row.kind,
            row.author,
            percent(row.dev_accuracy),
            percent(row.heldout_accuracy),
            row.note,
        )
    console.print(table)
    timings = ", ".join(f"{k} {v:.0f}s" for k, v in result.timings.items())
    console.print(f"timings: {timings}; total {sum(result.timings.values()):.0f}s")
    console.print(f"chart  {result.png}\nreport {result.html}")
    console.print(
        f"best release {result.best} is active; `RATCHET_HOME={result.home} ratchet up` serves it"
    )
