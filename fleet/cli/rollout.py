"""``ratchet rollout status|promote|abort``: the live rollout, and a person's decision on it.

These act on the home's state directly through the core (as ``ratchet
rollback`` and ``pin`` do), so they work whether or not the fleet is up.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ratchet.bootstrap import open_manager, release_store
from ratchet.config import CommonSettings, load
from ratchet.errors import RatchetError
from ratchet.rollouts.manual import end_by_hand, first_weight
from ratchet.rollouts.model import Decision, Outcome, Rollout, RolloutStatus
from ratchet.rollouts.store import RolloutStore
from ratchet.state import StateManager

rollout_app = typer.Typer(
    help="Rollouts: a release served to a share of conversations before it takes them all.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err = Console(stderr=True)

RECENT = 10
Reason = Annotated[str, typer.Option(help="Why, for the rollout's record.")]


def _fail(exc: RatchetError, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
    return typer.Exit(code)


def _open() -> tuple[CommonSettings, StateManager, RolloutStore]:
    try:
        settings = load(CommonSettings)
    except RatchetError as exc:
        raise _fail(exc, 2) from None
    try:
        manager = open_manager(settings)
    except RatchetError as exc:
        raise _fail(exc) from None
    return settings, manager, RolloutStore(manager.store)


def flatten(analysis: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """``{"a": {"b": 1}}`` as ``[("a.b", "1")]``: the analysis's numbers, one per line."""
    lines: list[tuple[str, str]] = []
    for key, value in analysis.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            lines.extend(flatten(value, f"{name}."))
        else:
            lines.append((name, f"{value:.4g}" if isinstance(value, float) else str(value)))
    return lines


def _describe_decision(title: str, decision: Decision) -> None:
    console.print(
        f"{title}: [bold]{decision.outcome.value}[/bold] by {escape(decision.actor)} "
        f"at step {decision.step + 1}, weight {decision.weight:g} ({decision.at})"
    )
    for reason in decision.reasons:
        console.print(f"  - {escape(reason)}")
    numbers = flatten(decision.analysis)
    if numbers:
        table = Table("analysis", "value", show_header=False, box=None, padding=(0, 2))
        for name, value in numbers:
            table.add_row(f"  {name}", value)
        console.print(table)


def _print_live(live: Rollout | None) -> None:
    if live is None:
        console.print("no rollout is live: the stable version serves every conversation")
        return
    stable = live.stable.version if live.stable else "?"
    console.print(
        f"rollout [bold]{live.id}[/bold] {live.status.value}: canary [bold]{live.version}"
        f"[/bold] beside stable {stable}, weight [bold]{live.weight:g}[/bold], "
        f"step {live.step + 1} (since {live.step_started_at})"
    )
    if live.latest is None:
        console.print("no analysis yet")
    else:
        _describe_decision("latest analysis", live.latest)


def _recent_table(rollouts: list[Rollout]) -> Table:
    table = Table(
        "id", "status", "canary", "stable", "weight", "step", "started", "ended", "verdict"
    )
    for r in rollouts:
        verdict = r.verdict
        said = f"{verdict.outcome.value}: {'; '.join(verdict.reasons)}" if verdict else ""
        table.add_row(
            r.id,
            r.status.value,
            r.version,
            r.stable.version if r.stable else "",
            f"{r.weight:g}",
            "" if r.status == RolloutStatus.QUEUED else str(r.step + 1),
            r.started_at or "",
            r.ended_at or "",
            escape(said),
        )
    return table


@rollout_app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="Recent rollouts to list.")] = RECENT,
) -> None:
    """The live rollout (weight, step, latest analysis), then the recent ones."""
    _, _, rollouts = _open()
    try:
        every = rollouts.all()
    except RatchetError as exc:
        raise _fail(exc) from None
    live = next((r for r in every if r.status.live), None)
    recent = list(reversed(every))[:limit]
    if as_json:
        print(
            json.dumps(
                {
                    "live": live.model_dump(mode="json") if live else None,
                    "rollouts": [r.model_dump(mode="json") for r in recent],
                    "total": len(every),
                },
                indent=2,
            )
        )
        return
    _print_live(live)
    if recent:
        console.print(_recent_table(recent))


def _end(outcome: Outcome, reason: str) -> None:
    settings, manager, rollouts = _open()
    try:
        ended = end_by_hand(
            manager,
            rollouts,
            outcome,
            reason=reason,
            first_weight=first_weight(settings),
            releases=release_store(settings),
        )
    except RatchetError as exc:
        raise _fail(exc) from None
    stable = ended.stable.version if ended.stable else "?"
    serving = ended.version if outcome == Outcome.PROMOTE else stable
    console.print(
        f"rollout [bold]{ended.id}[/bold] ({ended.version}) {ended.status.value}: "
        f"{serving} serves every conversation"
    )
    following = rollouts.live()
    if following is not None:
        console.print(
            f"rollout {following.id} started: canary {following.version} "
            f"at weight {following.weight:g}"
        )


@rollout_app.command()
def promote(reason: Reason = "") -> None:
    """End the live rollout by serving its canary to every conversation."""
    _end(Outcome.PROMOTE, reason)


@rollout_app.command()
def abort(reason: Reason = "") -> None:
    """End the live rollout: weight 0, the stable version keeps serving, the release is kept."""
    _end(Outcome.ABORT, reason)
