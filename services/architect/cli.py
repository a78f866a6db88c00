"""``ratchet feedback "text" [--patch FILE]`` and ``ratchet jobs [ID]``: the Architect's CLI.

Both talk to the running Architect over HTTP (``RATCHET_ARCHITECT_HOST``/``PORT``,
the bearer token when set). ``ratchet jobs ID`` follows a running job live,
stage by stage, until it ends (``--no-follow`` to print once).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ratchet.config import load
from ratchet.errors import RatchetError

from .settings import ArchitectSettings

console = Console()
err = Console(stderr=True)
FINAL = {"succeeded", "rejected", "failed"}
STYLE = {
    "passed": "green",
    "failed": "red",
    "running": "yellow",
    "skipped": "dim",
    "kept": "green",
    "lost": "dim",
    "rejected": "red",
}


def _client() -> httpx.Client:
    try:
        settings = load(ArchitectSettings)
    except RatchetError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    headers = {}
    if settings.token is not None:
        headers["Authorization"] = f"Bearer {settings.token.get_secret_value()}"
    return httpx.Client(base_url=settings.base_url, headers=headers, timeout=30)


def _call(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    try:
        with _client() as client:
            answer = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        err.print(f"[red]error:[/red] the Architect does not answer ({exc}); is `ratchet up` on?")
        raise typer.Exit(1) from None
    body: dict[str, Any] = answer.json()
    if answer.status_code >= 400:
        err.print(f"[red]error {answer.status_code}:[/red] {body.get('detail', body)}")
        raise typer.Exit(1)
    return body


def feedback(
    text: Annotated[str, typer.Argument(help="What should change, and why.")],
    patch: Annotated[Path | None, typer.Option(help="A unified diff to apply.")] = None,
    idempotency_key: Annotated[str | None, typer.Option(help="Retries: one job.")] = None,
) -> None:
    """Send feedback to the Architect; prints the job id (follow it with `ratchet jobs ID`)."""
    body: dict[str, Any] = {"text": text}
    if patch is not None:
        body["patch"] = patch.read_text()
    if idempotency_key:
        body["idempotency_key"] = idempotency_key
    accepted = _call("POST", "/feedback", json=body)
    console.print(f"job [bold]{accepted['job_id']}[/bold] {accepted['status']}")


def _job_table(job: dict[str, Any]) -> Table:
    title = f"job {job['id']}: {job['status']}"
    if job.get("version"):
        title += f" → {job['version']}"
    table = Table("stage", "status", "seconds", "log", title=title, caption=job.get("reason"))
    for stage in job["stages"]:
        status = stage["status"]
        seconds = "" if stage["seconds"] is None else f"{stage['seconds']:.1f}"
        last = (stage["log"] or "").strip().splitlines()
        table.add_row(
            stage["name"],
            f"[{STYLE.get(status, '')}]{status}[/]",
            seconds,
            last[-1] if last else "",
        )
    return table


def _score(candidate: dict[str, Any], tier: str, name: str) -> str:
    value = candidate["metrics"].get(tier, {}).get(name)
    return "" if value is None else f"{value:.4f}"


def _candidates_table(job: dict[str, Any]) -> Table:
    """Each candidate: what it tried, what the tiers measured and took, its fate and why."""
    table = Table("#", "tried", "status", "dev", "held-out", "seconds", "why", title="candidates")
    for candidate in job.get("candidates", []):
        status = candidate["status"]
        seconds = " / ".join(
            f"{tier} {candidate['seconds'][tier]:.1f}"
            for tier in ("micro", "fast", "full")
            if tier in candidate["seconds"]
        )
        table.add_row(
            str(candidate["index"]),
            candidate["summary"][:48],
            f"[{STYLE.get(status, '')}]{status}[/]",
            _score(candidate, "fast", "dev_accuracy"),
            _score(candidate, "full", "heldout_accuracy"),
            seconds,
            candidate["reason"],
        )
    return table


def job_view(job: dict[str, Any]) -> Group:
    parts: list[RenderableType] = [_job_table(job)]
    # e.g. a human patch run without a sandbox: said in full, not squeezed into a caption
    parts += [Text(f"warning: {w}", style="yellow") for w in job.get("warnings", [])]
    if job.get("candidates"):
        parts.append(_candidates_table(job))
    return Group(*parts)


def jobs(
    job_id: Annotated[str | None, typer.Argument(help="A job to show (and follow).")] = None,
    follow: Annotated[bool, typer.Option(help="Follow a running job until it ends.")] = True,
) -> None:
    """List jobs, or show one job's stages (live while it runs)."""
    if job_id is None:
        table = Table("id", "status", "version", "created", "text")
        for job in _call("GET", "/jobs")["jobs"]:
            table.add_row(
                job["id"],
                job["status"],
                job.get("version") or "",
                job["created_at"],
                job["text"][:60],
            )
        console.print(table)
        return
    job = _call("GET", f"/jobs/{job_id}")
    if not follow or job["status"] in FINAL:
        console.print(job_view(job))
        return
    with Live(job_view(job), console=console, refresh_per_second=4) as live:
        while job["status"] not in FINAL:
            time.sleep(0.5)
            job = _call("GET", f"/jobs/{job_id}")
            live.update(job_view(job))
