"""``ratchet eval --tier micro|fast|full``: run the CI tiers on a code root and report.

By default the code and state of the workspace's active release (its
commit-scoped build) are evaluated; ``--code-root`` evaluates another tree
(e.g. a checkout with local changes) against the same splits. Runs the tiers
up to the one asked for, stopping at the first failure; exit 1 if one fails.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ratchet.bootstrap import open_manager
from ratchet.builds import BuildStore
from ratchet.ci.tiers import CiOptions, run_tiers, summary_of, tiers_up_to
from ratchet.config import load
from ratchet.errors import RatchetError
from ratchet.state import ACTIVE_KEY, StateDocument
from services.architect.settings import ArchitectSettings

console = Console()
err = Console(stderr=True)


def evaluate(
    tier: Annotated[str, typer.Option(help="micro, fast or full (runs the tiers up to it).")],
    code_root: Annotated[
        Path | None, typer.Option(help="Tree to evaluate (default: the active release's build).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Run the CI tiers and show each tier's timing, metrics and verdict."""
    try:
        tiers = tiers_up_to(tier)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    try:
        settings = load(ArchitectSettings)
        manager = open_manager(settings)
        active = manager.read_active()
        assert active is not None and active.pointer.commit is not None
        build = BuildStore.open(settings).ensure(active.pointer.commit)
        root = (code_root or build).resolve()
        state = active.document
        if code_root is not None:
            path = root / "state" / ACTIVE_KEY
            state = StateDocument.from_file_bytes(str(path), path.read_bytes())
    except (RatchetError, OSError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    options = CiOptions(
        unit_tests=tuple(settings.fast_tests),
        shards=settings.full_shards,
        heldout_sample=settings.heldout_sample or None,
        heldout=settings.heldout_path,
    )

    def progress(report: object) -> None:
        if not as_json:
            console.print(f"• {getattr(report, 'reason', report)}")

    reports = run_tiers(state, root, build, tiers=tiers, options=options, on_report=progress)
    summary = summary_of(reports)
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    else:
        table = Table("tier", "", "seconds", "metrics", "reasons")
        for r in reports:
            metrics = ", ".join(f"{k} {v}" for k, v in r.metrics.items())
            table.add_row(
                r.tier,
                "[green]pass[/green]" if r.passed else "[red]FAIL[/red]",
                f"{r.seconds:.1f}",
                metrics,
                "; ".join(r.reasons[:3]),
            )
        console.print(table)
        console.print(_sandbox_line(summary["sandbox"]))
    raise typer.Exit(0 if summary["passed"] and len(reports) == len(tiers) else 1)


def _sandbox_line(sandbox: dict[str, Any]) -> str:
    """What the tiers ran candidates under, as the summary's ``sandbox`` records it."""
    if sandbox["kind"] == "none":
        return f"sandbox: none, candidates ran unconfined ({sandbox['reason']})"
    return f"sandbox: {sandbox['kind']} {sandbox['version'] or ''} ({sandbox['reason']})"
