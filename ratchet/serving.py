"""Running an ASGI app for a service: auth, bind rules, a readiness line.

Every process binds through :func:`serve`, so the loopback/token rule and the
bearer check cannot be forgotten by one of them. When the server accepts
connections it prints one JSON line ``{"event": "ready", "url": ...}`` on
stdout: supervisors and tests read it instead of sleeping, and it names the
real port when the configured one is 0.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import uvicorn
from starlette.types import ASGIApp

from ratchet.auth import OPEN_PATHS, BearerTokenMiddleware, public_paths
from ratchet.config import ServiceSettings, load
from ratchet.errors import RatchetError

S = TypeVar("S", bound=ServiceSettings)

YOUNG_GENERATION_THRESHOLD = 10_000
"""Allocations between two collections of the youngest generation (CPython: 700).
A served call allocates thousands of short-lived containers (the SDK's models, the
answer), so at 700 every call paid for several young collections. Each leaves at
most this many cyclic objects uncollected a little longer (measured: bench/README.md,
"The young generation's threshold")."""


def secured(app: ASGIApp, settings: ServiceSettings) -> ASGIApp:
    token = settings.token.get_secret_value() if settings.token else None
    declared = public_paths(app)
    exact = frozenset(p for p in declared if not p.endswith("*"))
    prefixes = tuple(p.rstrip("*") for p in declared if p.endswith("*"))
    return BearerTokenMiddleware(app, token, OPEN_PATHS | exact, prefixes)


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only
    # when the proto says TCP; without it Nagle and delayed ACKs add ~40 ms a call.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.strip("[]"), port))
    sock.set_inheritable(True)
    return sock


def bind_unix_socket(path: Path) -> socket.socket:
    """A listening Unix socket at ``path`` (a stale one of a dead process replaced),
    readable and writable by this user only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    path.chmod(0o600)
    sock.set_inheritable(True)
    return sock


def _ready_line(settings: ServiceSettings, sock: socket.socket) -> dict[str, str]:
    if settings.socket is not None:
        # Clients connect to the path; the URL only sets the Host header, which the
        # MCP transport's DNS-rebinding check wants as localhost with a port.
        return {"url": "http://localhost:1", "socket": str(settings.socket)}
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return {"url": f"http://{host}:{sock.getsockname()[1]}"}


async def serve(app: ASGIApp, settings: ServiceSettings, *, log_level: str = "warning") -> None:
    """Serve until SIGINT/SIGTERM; announce readiness on stdout."""
    if settings.socket is not None:
        sock = bind_unix_socket(settings.socket)
    else:
        sock = bind_socket(settings.host, settings.port)
    config = uvicorn.Config(
        secured(app, settings), log_level=log_level, lifespan="on", timeout_graceful_shutdown=10
    )
    server = uvicorn.Server(config)

    async def announce() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.01)
        line = {"event": "ready", "service": settings.service_name, **_ready_line(settings, sock)}
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()

    announcer = asyncio.create_task(announce())
    try:
        await server.serve(sockets=[sock])
    finally:
        announcer.cancel()
        sock.close()


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def run_service(build: Callable[[S], ASGIApp], settings_cls: type[S]) -> None:
    """A service's ``__main__``: load settings and build the app (exit 2 with the
    reason if either fails), then serve until stopped."""
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again with
    # the handler it found. Python's default would end the process on the spot,
    # skipping the exit handlers that flush telemetry still queued for export;
    # exiting through SystemExit runs them (exit status 143, as a shell reports it).
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    # Process logs go to stderr (the supervisor keeps them in logs/{service}.log);
    # telemetry adds its own handler for the object store or the collector.
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = load(settings_cls)
        # What the imports made lives as long as the process (~180,000 objects in the
        # Runner): out of the cyclic collector's reach, a full collection no longer
        # stops a request for ~100 ms to walk it. Only that is frozen: a release built
        # after this point is collected when it is swapped out.
        gc.collect()
        gc.freeze()
        _, middle, oldest = gc.get_threshold()
        gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, oldest)
        app = build(settings)
    except RatchetError as exc:
        sys.stderr.write(f"{settings_cls.service_name}: {exc}\n")
        raise SystemExit(2) from None
    asyncio.run(serve(app, settings))
