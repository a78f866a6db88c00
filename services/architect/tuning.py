"""After a minor or major release: ask the Tuner to tune the release's params.

A template adds arms and params at values chosen by hand on one task; the
Tuner's CMA-ES tunes every param the state declares on the dev split and
releases a patch when they win (its ``tune_release`` tool, which answers at
once and tunes in the background). The ask goes over MCP with the official
client, with the fleet's bearer token when one is set. The Tuner being out
of reach never fails the job: the job records a warning and the release stands.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from ratchet.rollouts.model import Rollout
from ratchet.state import StateDocument
from ratchet.vcs import Release, ReleaseKind

from .context import ArchitectContext

log = logging.getLogger(__name__)
ASK_TIMEOUT_S = 30.0


def wants_tuning(release: Release, state: StateDocument) -> bool:
    """A minor or major release whose state declares params (a patch is the Tuner's own)."""
    return release.kind in (ReleaseKind.MINOR, ReleaseKind.MAJOR) and bool(state.data.get("params"))


async def tune_release(url: str, token: str | None, evaluations: int) -> dict[str, Any]:
    """The Tuner's answer to ``tune_release`` (its tune's progress)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with anyio.fail_after(ASK_TIMEOUT_S):
        async with httpx2.AsyncClient(headers=headers, timeout=ASK_TIMEOUT_S) as http:
            transport = streamable_http_client(url, http_client=http)
            async with Client(transport) as client:
                result = await client.call_tool("tune_release", {"evaluations": evaluations})
    if result.is_error or result.structured_content is None:
        raise RuntimeError(f"tune_release failed: {result.content}")
    return dict(result.structured_content)


def ask_tuner(ctx: ArchitectContext, job_id: str, release: Release, state: StateDocument) -> str:
    """Ask the Tuner to tune ``release``; a line for the release stage's log. Never raises:
    a failure is the job's warning."""
    settings = ctx.settings
    if not settings.tuner_url:
        return "the Tuner is not asked to tune (RATCHET_ARCHITECT_TUNER_URL is empty)"
    if not wants_tuning(release, state):
        return f"no tuning asked: a {release.kind} release" + (
            "" if state.data.get("params") else " whose state declares no params"
        )
    token = settings.token.get_secret_value() if settings.token else None
    try:
        answer = anyio.run(tune_release, settings.tuner_url, token, settings.tuner_evaluations)
    except Exception as exc:  # out of reach, refused, timed out: the release stands
        warning = (
            f"the Tuner at {settings.tuner_url} could not be asked to tune {release.version}'s "
            f"params: {type(exc).__name__}: {exc}"
        )
        log.warning("job %s: %s", job_id, warning)
        ctx.jobs.add_warning(job_id, warning)
        return f"warning: {warning}"
    return (
        f"asked the Tuner to tune {release.version}'s params "
        f"({settings.tuner_evaluations} evaluations): {answer.get('phase')}, "
        f"{answer.get('reason')}"
    )


def ask_tuner_on_promotion(ctx: ArchitectContext, rollout: Rollout) -> None:
    """The rollout controller's hook: a promoted minor or major release is tuned now that
    it is served (a patch is the Tuner's own)."""
    release = ctx.releases.get(rollout.version)
    job_id = (release.metadata.model_extra or {}).get("job_id")
    if job_id is None:
        return  # not a job's release: nothing to report the answer on
    state = ctx.manager.snapshot_state(rollout.canary.snapshot)
    line = ask_tuner(ctx, str(job_id), release, state)
    log.info("rollout %s promoted %s: %s", rollout.id, rollout.version, line)
