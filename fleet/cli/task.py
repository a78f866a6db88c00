"""``ratchet task``: check a task folder, or make one from a CSV the user has."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ratchet.config import CommonSettings, load
from ratchet.errors import RatchetError
from ratchet.tasks import find_task, inspect
from ratchet.tasks.importer import DEFAULT_TEST_SHARE, ImportRequest, import_csv
from ratchet.tasks.problems import Problem, TaskError
from ratchet.tasks.summary import SPLIT_NAMES, TaskSummary, summarize
from ratchet.vcs.workspace import default_project_root

task_app = typer.Typer(
    help="Tasks: the labelled data a home serves (see docs/tasks.md).",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err = Console(stderr=True)


def _fail(message: str, code: int) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


def _project_root() -> Path:
    try:
        settings = load(CommonSettings)
    except RatchetError as exc:
        raise _fail(str(exc), 2) from None
    return settings.project_root or default_project_root()


def _print_problems(title: str, problems: list[Problem], style: str) -> None:
    if not problems:
        return
    console.print(f"[{style}]{title} ({len(problems)})[/{style}]")
    for problem in problems:
        # Plain lines, never wrapped: `file:line: message` is what editors jump to.
        console.print(str(problem), markup=False, highlight=False, soft_wrap=True)


@task_app.command()
def check(
    path: Annotated[str, typer.Argument(help="A task folder, or a built-in task's name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Summarise a task and list its problems; exit 1 if it has any."""
    try:
        folder = find_task(path, _project_root())
    except RatchetError as exc:
        raise _fail(str(exc), 2) from None
    found = inspect(folder)
    summary = summarize(found)
    if as_json:
        report = {
            "folder": str(folder),
            "ok": found.ok,
            "summary": summary.as_dict(),
            "problems": [str(p) for p in found.problems],
            "warnings": [str(p) for p in found.warnings],
        }
        typer.echo(json.dumps(report, indent=2))
    else:
        console.print(f"task [bold]{escape(summary.name or '?')}[/bold] in {escape(str(folder))}")
        if found.manifest is not None:
            _print_summary(summary)
        _print_problems("warnings", found.warnings, "yellow")
        _print_problems("problems", found.problems, "red")
        verdict = "[green]ok[/green]" if found.ok else "[red]not usable[/red]"
        console.print(f"{verdict}: {len(found.problems)} problems, {len(found.warnings)} warnings")
    raise typer.Exit(0 if found.ok else 1)


def _print_summary(summary: TaskSummary) -> None:
    table = Table("", *SPLIT_NAMES, title=None, show_header=True)
    table.add_row("rows", *(str(summary.rows[s]) for s in SPLIT_NAMES))
    oos = summary.oos_label
    table.add_row(
        f"out of scope ({escape(repr(oos))})" if oos else "out of scope",
        *(str(summary.oos_rows[s]) if oos else "-" for s in SPLIT_NAMES),
    )
    console.print(table)
    scope = f"out-of-scope label {escape(repr(oos))}" if oos else "no out-of-scope label"
    console.print(f"labels {summary.labels} ({scope})")
    if summary.balance is not None:
        b = summary.balance
        console.print(
            f"rows per label in train.csv: min {b.least} ({escape(_few(b.smallest))}), "
            f"median {b.median:g}, max {b.most} ({escape(_few(b.largest))})",
            soft_wrap=True,
        )
    console.print(
        f"duplicate rows {summary.duplicates}; leakage (test rows whose text is in train.csv) "
        f"{summary.leakage}",
        soft_wrap=True,
    )


def _few(labels: tuple[str, ...], shown: int = 3) -> str:
    more = f" (+{len(labels) - shown} more)" if len(labels) > shown else ""
    return ", ".join(labels[:shown]) + more


@task_app.command("import")
def import_(
    csv_file: Annotated[Path, typer.Argument(metavar="FILE.csv", help="One labelled CSV.")],
    text: Annotated[str, typer.Option("--text", help="The column holding the message.")],
    label: Annotated[str, typer.Option("--label", help="The column holding its label.")],
    out: Annotated[Path, typer.Option("--out", help="The task folder to create.")],
    test_share: Annotated[
        float, typer.Option("--test-share", help="Share of each label held out as test.csv.")
    ] = DEFAULT_TEST_SHARE,
    oos_label: Annotated[
        str | None, typer.Option("--oos-label", help="The label of out-of-scope rows.")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Task name (default: from the file name).")
    ] = None,
) -> None:
    """Make a task folder from one CSV, with a deterministic stratified held-out split."""
    request = ImportRequest(csv_file, text, label, out, test_share, oos_label, name)
    try:
        made = import_csv(request)
    except TaskError as exc:
        raise _fail(str(exc), 2) from None
    oos = f", {made.oos_rows} out of scope ({oos_label})" if oos_label else ""
    console.print(
        f"wrote task [bold]{escape(made.name)}[/bold] to {escape(str(made.folder))}: "
        f"{len(made.labels)} labels, {made.train_rows} train rows, {made.test_rows} test rows"
        f"{escape(oos)}",
        soft_wrap=True,
    )
    console.print(f"next: ratchet task check {escape(str(made.folder))}", soft_wrap=True)
