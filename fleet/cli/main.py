"""``ratchet``: set up, run and inspect the fleet."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

import ratchet
from fleet import record as fleet_record
from fleet.cli.architect import feedback, jobs
from fleet.cli.demo import demo
from fleet.cli.doctor import run_checks
from fleet.cli.evaluate import evaluate
from fleet.cli.rollout import rollout_app
from fleet.cli.task import task_app
from fleet.containers import ImageBuilder, ImageFollower
from fleet.supervisor import Supervisor, built_services, missing_services
from ratchet.bootstrap import initialize, open_manager, release_store
from ratchet.builds import BuildStore
from ratchet.config import CommonSettings, load
from ratchet.errors import ConfigError, NotFoundError, RatchetError
from ratchet.state import Pointer, StateManager
from ratchet.tasks import TaskError, active_task
from ratchet.tasks.heldout import heldout_rows
from services.versions.cli import versions_app

app = typer.Typer(
    name="ratchet",
    help="Ratchet: a self-improving MCP service fleet.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err = Console(stderr=True)
# `ratchet versions [show V]`: the Versions API's registry, read in-process.
app.add_typer(versions_app, name="versions")
# `ratchet task check|import`: the labelled data a home serves.
app.add_typer(task_app, name="task")
# `ratchet rollout status|promote|abort`: the live rollout, and a person's decision on it.
app.add_typer(rollout_app, name="rollout")
# `ratchet eval --tier T`: the CI tiers; `ratchet feedback`, `ratchet jobs`: the Architect.
app.command("eval")(evaluate)
app.command("feedback")(feedback)
app.command("jobs")(jobs)
# `ratchet demo`: the main loop end to end on a fresh home.
app.command()(demo)


@contextlib.contextmanager
def _reported(code: int = 1) -> Iterator[None]:
    """Turn a RatchetError into its message on stderr and an exit code; no traceback."""
    try:
        yield
    except RatchetError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code) from None


def _settings() -> CommonSettings:
    with _reported(2):
        return load(CommonSettings)


def _version_callback(value: bool) -> None:
    if value:
        console.print(f"ratchet {ratchet.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version_callback,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Ratchet: every improvement is a tested, tagged, reversible release."""


@app.command()
def init(
    task: Annotated[
        str | None,
        typer.Option(
            "--task",
            metavar="PATH|NAME",
            help="Task a new home serves: a task folder or a built-in task (as RATCHET_TASK).",
        ),
    ] = None,
) -> None:
    """Create the home folder and workspace and release v0.1.0 (idempotent)."""
    settings = _settings()
    if task is not None:
        settings = settings.model_copy(update={"task": task})
    try:
        report = initialize(settings)
    except RatchetError as exc:
        # A task that cannot be served is bad input, like bad settings: nothing was created.
        about_task = settings.task is not None and isinstance(exc, (ConfigError, NotFoundError))
        code = 2 if about_task or isinstance(exc, TaskError) else 1
        err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(code) from None
    for step in report.steps or ["already initialised: nothing to do"]:
        console.print(f"• {step}")
    console.print(
        f"home {report.home}\nworkspace {report.workspace}\n"
        f"active version [bold]{report.active_version}[/bold]"
    )


@app.command()
def up() -> None:
    """Initialise if needed, then run every built service in the foreground.

    Ctrl-C or SIGTERM stops them all.
    """
    settings = _settings()
    running = fleet_record.read(settings.home_path)
    if running is not None and running.alive():
        err.print(
            f"[red]error:[/red] a fleet is already running on this home (pid {running.pid}); "
            "`ratchet down` stops it"
        )
        raise typer.Exit(1)
    init()
    specs = built_services()
    for name in missing_services():
        console.print(f"[yellow]•[/yellow] {name}: not built yet, skipped")
    if not specs:
        console.print("No services are built yet; the workspace is ready.")
        return
    env = {**os.environ, "RATCHET_HOME": str(settings.home_path)}
    supervisor = Supervisor(specs, settings.logs_path, env=env)

    def _stop(signum: int, frame: FrameType | None) -> None:
        supervisor.request_stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        urls = supervisor.start()
    except RuntimeError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    for name, url in urls.items():
        console.print(f"[green]•[/green] {name:<10} {url}")
    images = _follow_images(settings)
    console.print(f"logs in {settings.logs_path}; Ctrl-C stops the fleet")
    record = fleet_record.write(settings.home_path, urls)
    try:
        supervisor.run()
    finally:
        images.stop()
        fleet_record.remove(settings.home_path, record.pid)
    console.print("stopped")


def _follow_images(settings: CommonSettings) -> ImageFollower:
    """Build ``ratchet:<commit>`` for each release where a Docker engine answers; else say so."""
    builds = BuildStore.open(settings)
    follower = ImageFollower(ImageBuilder(builds), release_store(settings))
    if follower.start():
        console.print("[green]•[/green] images     ratchet:<commit> built for each release")
    else:
        reason = follower.builder.reason
        console.print(f"[yellow]•[/yellow] images     no Docker engine ({reason}): skipped")
    return follower


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """The running fleet's services (health) and the active version; exit 1 if any is down."""
    settings = _settings()
    record = fleet_record.read(settings.home_path)
    services: dict[str, dict[str, object]] = {}
    if record is not None and record.alive():
        for name, url in record.urls.items():
            try:
                healthy = httpx.get(f"{url}/healthz", timeout=3).status_code == 200
            except httpx.HTTPError:
                healthy = False
            services[name] = {"url": url, "healthy": healthy}
    active = _manager().read_active() if settings.workspace_path.exists() else None
    canary = active.pointer.canary if active else None
    report = {
        "running": bool(services),
        "pid": record.pid if services and record else None,
        "services": services,
        "active_version": active.version if active else None,
        "canary": None if canary is None else {"version": canary.version, "weight": canary.weight},
        "task": _task_summary(settings),
    }
    beside = "" if canary is None else f" (canary {canary.version} at weight {canary.weight:g})"
    ok = bool(services) and all(s["healthy"] for s in services.values())
    if as_json:
        console.print_json(json.dumps(report))
    elif not services:
        stale = " (stale record of a killed fleet)" if record is not None else ""
        console.print(f"not running{stale}; active version {report['active_version']}{beside}")
        _print_task(report["task"])
    else:
        for name, service in services.items():
            mark = "[green]up[/green]" if service["healthy"] else "[red]down[/red]"
            console.print(f"{name:<10} {mark:<20} {service['url']}")
        console.print(
            f"pid {record.pid if record else '?'}; active version {report['active_version']}"
            + beside
        )
        _print_task(report["task"])
    raise typer.Exit(0 if ok else 1)


def _task_summary(settings: CommonSettings) -> dict[str, object] | None:
    """The task the home's workspace serves: name, labels, out-of-scope label."""
    if not settings.workspace_path.exists():
        return None
    try:
        task = active_task(settings.workspace_path)
    except RatchetError as exc:
        return {"error": str(exc)}
    return {**task.summary(), "test_rows": heldout_rows(task, settings.heldout_path)}


def _print_task(task: object) -> None:
    if not isinstance(task, dict):
        return
    if "error" in task:
        console.print(f"task: [red]unreadable[/red] ({escape(str(task['error']))})")
        return
    oos = task["oos_label"]
    scope = f"out-of-scope label {escape(repr(oos))}" if oos else "no out-of-scope label"
    name = escape(str(task["name"]))
    console.print(f"task [bold]{name}[/bold]: {task['labels']} labels, {scope}")


@app.command()
def down(
    timeout: Annotated[float, typer.Option(help="Seconds to wait for a clean stop.")] = 60,
) -> None:
    """Stop the fleet `ratchet up` is running on this home (SIGTERM, then wait)."""
    settings = _settings()
    record = fleet_record.read(settings.home_path)
    if record is None or not record.alive():
        console.print("not running")
        return
    os.kill(record.pid, signal.SIGTERM)
    if not fleet_record.wait_gone(record, timeout):
        err.print(f"[red]error:[/red] the fleet (pid {record.pid}) did not stop in {timeout:.0f} s")
        raise typer.Exit(1)
    console.print(f"stopped the fleet (pid {record.pid})")


@app.command()
def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Check the machine, settings, workspace and stores; exit 1 if a check fails."""
    settings = _settings()
    results = run_checks(settings)
    failed = [r for r in results if not r.ok]
    if as_json:
        sys.stdout.write(
            json.dumps({"ok": not failed, "checks": [r.as_dict() for r in results]}, indent=2)
            + "\n"
        )
    else:
        table = Table("check", "", "detail", "fix")
        for r in results:
            table.add_row(
                r.name, "[green]ok[/green]" if r.ok else "[red]FAIL[/red]", r.detail, r.fix
            )
        console.print(table)
    raise typer.Exit(1 if failed else 0)


@app.command()
def pointer() -> None:
    """Show the active version and every move of the active pointer."""
    manager = _manager()
    table = Table("#", "version", "action", "actor", "at", "reason")
    for entry in manager.pointer_history():
        table.add_row(
            str(entry.revision), entry.version, entry.action, entry.actor, entry.at, entry.reason
        )
    console.print(table)


@app.command()
def rollback(
    to: Annotated[
        str | None, typer.Option(help="Version to serve (default: the previous).")
    ] = None,
    reason: Annotated[str, typer.Option(help="Why, for the pointer history.")] = "",
) -> None:
    """Move the active pointer back."""
    _pointer_move(lambda m: m.rollback(actor="human", reason=reason or "rollback", to=to))


@app.command()
def pin(reason: Annotated[str, typer.Option(help="Why, for the pointer history.")] = "") -> None:
    """Freeze the active version: promotions and releases answer "pinned"."""
    _pointer_move(lambda m: m.pin(actor="human", reason=reason))


@app.command()
def unpin(reason: Annotated[str, typer.Option(help="Why, for the pointer history.")] = "") -> None:
    """Let the active pointer move again."""
    _pointer_move(lambda m: m.unpin(actor="human", reason=reason))


def _manager() -> StateManager:
    with _reported():
        return open_manager(_settings())


def _pointer_move(move: Callable[[StateManager], Pointer]) -> None:
    manager = _manager()
    with _reported():
        result = move(manager)
    pinned = " (pinned)" if result.pinned else ""
    console.print(f"active version [bold]{result.version}[/bold]{pinned}")


if __name__ == "__main__":
    app()
