"""``ratchet versions`` and ``ratchet versions show V``: the registry in a terminal.

In-process, from the workspace, through the same :class:`~.registry.VersionRegistry`
the service uses: the commands work whether or not ``ratchet up`` is running,
and show exactly what the API would answer. Heavy imports wait until a
command runs, so the rest of the CLI does not pay for them at start.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from ratchet.config import CommonSettings, load
from ratchet.errors import RatchetError

if TYPE_CHECKING:
    from .models import Kpis, Links, VersionDiff
    from .registry import VersionRegistry

versions_app = typer.Typer(
    help="The releases: a table of every version, or one in detail.", add_completion=False
)

KIND_STYLE = {"major": "bold magenta", "minor": "bold blue", "patch": "cyan"}


@contextlib.contextmanager
def _reported() -> Iterator[None]:
    try:
        yield
    except RatchetError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None


def _registry() -> VersionRegistry:
    from .registry import VersionRegistry

    with _reported():
        return VersionRegistry(load(CommonSettings))


def _metric(value: float | None, fmt: str) -> str:
    return "—" if value is None else fmt.format(value)


def _kpis_cell(kpis: Kpis | None) -> str:
    if kpis is None:
        return ""
    best = kpis.heldout_best_arm_accuracy
    return (
        f"{_metric(kpis.heldout_accuracy, '{:.1%}')}"
        + (f" (best arm {best:.1%})" if best is not None else "")
        + " · "
        f"{_metric(kpis.p95_latency_ms, '{:.0f} ms')} · {_metric(kpis.error_rate, '{:.2%}')}"
    )


@versions_app.callback(invoke_without_command=True)
def versions(
    ctx: typer.Context,
    kind: Annotated[str | None, typer.Option(help="Only patch, minor or major.")] = None,
    author: Annotated[str | None, typer.Option(help="Only tuner, architect or human.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many, newest first.")] = 50,
) -> None:
    """Every release, newest first, with its eval metrics where there are some."""
    if ctx.invoked_subcommand is not None:
        return
    from ratchet.vcs import ReleaseKind

    from .models import Kpis

    console = Console()  # made per call: it reads the terminal's width (COLUMNS) now
    registry = _registry()
    with _reported():
        try:
            chosen = ReleaseKind(kind) if kind else None
        except ValueError:
            raise typer.BadParameter(
                "expected patch, minor or major", param_hint="--kind"
            ) from None
        page = registry.page(kind=chosen, author=author, limit=limit)
        series = registry.kpi_series()
    measured = {p.version: Kpis.model_validate(p.model_dump()) for p in series.points}
    table = Table()
    for name in ("version", "kind", "author", "released"):
        table.add_column(name, no_wrap=True)
    table.add_column("reason", min_width=20, ratio=1)
    table.add_column("acc · p95 · err")
    for item in page["versions"]:
        version = item["version"]
        mark = " [yellow]● active[/yellow]" if version == page["active"] else ""
        table.add_row(
            f"[bold]{version}[/bold]{mark}",
            f"[{KIND_STYLE.get(item['kind'], '')}]{item['kind']}[/]",
            item["author"],
            (item["created_at"] or item["tagged_at"])[:16].replace("T", " "),
            item["reason"],
            _kpis_cell(measured.get(version)),
        )
    console.print(table)
    shown = len(page["versions"])
    console.print(f"{shown} of {page['total']} releases; active [bold]{page['active']}[/bold]")
    for tag in page["flagged"]:
        console.print(f"[yellow]flagged[/yellow] {tag['name']}: {tag['reason']}")


@versions_app.command()
def show(
    version: Annotated[str, typer.Argument(help="vMAJOR.MINOR.PATCH")],
    against: Annotated[
        str | None, typer.Option(help="Diff against this release (default: the parent).")
    ] = None,
) -> None:
    """One release: metadata, eval metrics, diff against its parent, changelog."""
    console = Console()
    registry = _registry()
    with _reported():
        detail = registry.detail(version)
        try:
            report = registry.eval_report(version)
        except RatchetError:
            report = None
        diff = registry.diff(version, against) if (against or detail.parent) else None
    style = KIND_STYLE.get(detail.kind, "")
    active = "  [yellow]● active[/yellow]" if detail.active else ""
    console.print(
        f"[bold]{detail.version}[/bold]  [{style}]{detail.kind}[/]  {detail.author}{active}"
    )
    console.print(detail.reason or "[dim]no reason given[/dim]")
    facts = Table.grid(padding=(0, 2))
    rows = [
        ("task", detail.task),
        ("commit", detail.commit),
        ("parent", detail.parent or "—"),
        ("children", ", ".join(detail.children) or "—"),
        ("released", detail.created_at or detail.tagged_at),
        ("job", detail.links.job_id),
        ("feedback", ", ".join(detail.links.feedback_ids) or None),
        ("feedback applied", detail.links.feedback_applied),
        ("learned from", learned_from_summary(detail.links)),
        ("state hash", detail.state_hash),
        ("eval summary", detail.eval_key if report else f"none yet ({detail.eval_key})"),
        ("sandbox", detail.sandbox.words() if detail.sandbox else None),
        ("rollout", detail.rollout.words() if detail.rollout else None),
    ]
    for label, value in rows:
        if value is not None:
            facts.add_row(f"[dim]{label}[/dim]", str(value))
    console.print(facts)
    if report is not None:
        console.print(f"[bold]metrics[/bold]  {_kpis_cell(report.kpis)}  (served acc · p95 · err)")
    if diff is not None:
        _print_diff(console, diff)
    if detail.changelog:
        console.print("[bold]changelog[/bold]")
        for entry in detail.changelog:
            console.print(f"  [dim]{entry.commit[:10]}[/dim] {entry.subject}")
    if detail.metadata:
        console.print(f"[dim]metadata[/dim] {json.dumps(detail.metadata, sort_keys=True)}")


def learned_from_summary(links: Links) -> str | None:
    """``3 feedback events: c-1, c-2``, or None for a release that names none."""
    if links.learned_from is None:
        return None
    shown = ", ".join(links.conversations[:5])
    more = ", …" if len(links.conversations) > 5 else ""
    return f"{links.learned_from} feedback events" + (f": {shown}{more}" if shown else "")


def _print_diff(console: Console, diff: VersionDiff) -> None:
    console.print(f"[bold]diff against {diff.against}[/bold]")
    for change in diff.files:
        counts = "bin" if change.additions is None else f"+{change.additions} -{change.deletions}"
        console.print(f"  {change.status:<9} {change.path}  [dim]{counts}[/dim]")
    if not diff.files:
        console.print("  [dim]no files changed[/dim]")
    for state in diff.state.changes[:20]:
        before = "" if state.op == "added" else json.dumps(state.before)[:60]
        after = "" if state.op == "removed" else json.dumps(state.after)[:60]
        console.print(f"  [dim]{state.op:<7}[/dim] {state.path}  {before} → {after}")
    hidden = len(diff.state.changes) - 20
    if hidden > 0 or diff.state.truncated:
        console.print("  [dim]… more state changes (see the API's /diff)[/dim]")
