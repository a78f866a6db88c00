"""The Runner's server: tool ``route``, resource ``session://{conversation_id}``
(:mod:`services.runner.tools`), ``/healthz`` and ``/metrics``, served over streamable HTTP.

Bad input becomes a tool error (``isError``) or a resource error with a
message saying what to fix; an unexpected failure reaches the client as a
one-line error, never a trace.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

import ratchet
from ratchet import datasets
from ratchet.after_response import AfterResponse
from ratchet.objects import open_object_store
from ratchet.state import open_state_manager
from ratchet.tasks import Task

from .runtime import RunnerRuntime
from .settings import RunnerSettings
from .tools import route, session


def instructions(task: Task) -> str:
    """What a client is told the server does: the served task's own description."""
    what = task.manifest.description.strip()
    return f"Routes messages to one of the {len(task.labels)} intents of task {task.name}" + (
        f": {what}" if what else "."
    )


def build_server(runtime: RunnerRuntime) -> MCPServer:
    server = MCPServer(
        "ratchet-runner",
        version=ratchet.__version__,
        instructions=instructions(datasets.task(runtime.factory.project_root)),
        log_level="WARNING",
    )
    route.register(server, runtime)
    session.register(server, runtime)
    endpoints = Endpoints(runtime)
    server.custom_route("/healthz", methods=["GET"])(endpoints.healthz)
    server.custom_route("/metrics", methods=["GET"])(endpoints.window_metrics)
    return server


class Endpoints:
    """The Runner's plain HTTP routes beside MCP: health and the audit window's metrics."""

    def __init__(self, runtime: RunnerRuntime) -> None:
        self.runtime = runtime

    async def healthz(self, request: Request) -> JSONResponse:
        serving = self.runtime.serving
        stable, canary = serving.stable, serving.canary
        body: dict[str, object] = {
            "status": "ok",
            "version": stable.version,
            "state_revision": stable.revision,
        }
        if canary is not None:  # a rollout: the release tried on a share of new conversations
            body["canary"] = {
                "version": canary.version,
                "state_revision": canary.revision,
                "weight": serving.weight,
            }
        return JSONResponse(body)

    async def window_metrics(self, request: Request) -> JSONResponse:
        try:
            seconds = float(request.query_params.get("window", "300"))
        except ValueError:
            return JSONResponse({"detail": "window must be a number of seconds"}, 400)
        if not 0 < seconds <= 30 * 86400:
            return JSONResponse({"detail": "window must be in (0, 2592000] seconds"}, 400)
        slow_ms = None
        if "slow_ms" in request.query_params:  # the Triggerer's latency SLO threshold
            try:
                slow_ms = float(request.query_params["slow_ms"])
            except ValueError:
                slow_ms = -1.0
            if not 0 < slow_ms < 1e9:
                return JSONResponse({"detail": "slow_ms must be a positive number"}, 400)
        stats = self.runtime.audit.window(seconds, tool="route", slow_ms=slow_ms)
        body = {k: getattr(stats, k) for k in stats.__slots__}
        return JSONResponse(
            {**body, "error_rate": stats.error_rate, "version": self.runtime.served.version}
        )


def create_app(
    settings: RunnerSettings, admits: Callable[[str | None], bool] | None = None
) -> Starlette:
    """The contract with the static host (:mod:`ratchet.release_follower`): one
    ASGI app per loaded version, its runtime started and stopped by its lifespan;
    ``admits(commit)`` tells whether this code may serve the release at ``commit``."""
    return build_app(make_runtime(settings, admits))


def make_runtime(
    settings: RunnerSettings, admits: Callable[[str | None], bool] | None = None
) -> RunnerRuntime:
    return RunnerRuntime(
        settings, open_state_manager(settings), open_object_store(settings), admits=admits
    )


def build_app(runtime: RunnerRuntime) -> Starlette:
    """Streamable HTTP with plain JSON responses and no server-side MCP sessions:
    any Runner process can answer any request, and no SSE stream can be cut."""
    server = build_server(runtime)
    app = server.streamable_http_app(
        json_response=True, stateless_http=True, host=runtime.settings.host
    )
    app.add_middleware(AfterResponse)  # inside the hot swap's count of a version's requests
    inner_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        runtime.start()
        try:
            async with inner_lifespan(app):
                yield
        finally:
            runtime.stop()

    app.router.lifespan_context = lifespan
    return app
