"""Replacing a service's code in a running process without failing a call.

A service package (e.g. ``services/runner``) is loaded from a commit-scoped
build under an alias of its own (``ratchet_build_<commit>``), so two versions
can live side by side; its ``app.create_app(settings)`` builds the ASGI app.
:class:`AppSwitch` is the app the server actually runs: each request goes to
the current version; a replacement starts the new version's lifespan, swaps
the reference, waits until the old version has no request in flight, then
shuts the old one down. Connections stay open throughout: nothing is handed
over between processes, so no client sees a reset.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
from anyio.abc import TaskGroup
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from ratchet.errors import ConfigError

log = logging.getLogger(__name__)


def load_package(build: Path, relative: str, alias: str) -> ModuleType:
    """Import ``build/relative`` (a package using relative imports) as ``alias``."""
    directory = build / relative
    spec = importlib.util.spec_from_file_location(
        alias, directory / "__init__.py", submodule_search_locations=[str(directory)]
    )
    if spec is None or spec.loader is None:
        raise ConfigError(f"{directory} is not a Python package")
    module = importlib.util.module_from_spec(spec)
    sys.modules[alias] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[alias]
        raise
    return module


def unload_package(alias: str) -> None:
    for name in [n for n in sys.modules if n == alias or n.startswith(alias + ".")]:
        del sys.modules[name]


@dataclass(eq=False)
class _Version:
    """One loaded version of the app, with its lifespan running in its own task."""

    label: str
    app: Starlette
    inflight: int = 0
    started: anyio.Event = field(default_factory=anyio.Event)
    stop: anyio.Event = field(default_factory=anyio.Event)
    stopped: anyio.Event = field(default_factory=anyio.Event)
    failure: BaseException | None = None

    async def run(self) -> None:
        # Entered and exited in this one task: the MCP session manager's task
        # group (inside the lifespan) must not cross tasks.
        try:
            async with self.app.router.lifespan_context(self.app):
                self.started.set()
                await self.stop.wait()
        except Exception as exc:
            self.failure = exc
            log.exception("%s: lifespan failed", self.label)
        finally:
            self.started.set()
            self.stopped.set()


class AppSwitch:
    """The ASGI app a service serves: forwards to the current version."""

    def __init__(
        self,
        label: str,
        app: Starlette,
        *,
        background: Callable[[AppSwitch], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        self._current = _Version(label, app)
        self._background = background  # runs while the switch serves (e.g. a release follower)
        self._group: TaskGroup | None = None
        self._lock = anyio.Lock()

    @property
    def label(self) -> str:
        return self._current.label

    @property
    def app(self) -> Starlette:
        return self._current.app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        version = self._current  # read once: the request finishes on this version
        version.inflight += 1
        try:
            await version.app(scope, receive, send)
        finally:
            version.inflight -= 1

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        await receive()  # lifespan.startup
        try:
            async with anyio.create_task_group() as group:
                self._group = group
                await self._start(self._current)
                if self._background is not None:
                    group.start_soon(self._background, self)
                await send({"type": "lifespan.startup.complete"})
                await receive()  # lifespan.shutdown
                async with self._lock:  # let a replacement in progress finish first
                    self._current.stop.set()
                    await self._current.stopped.wait()
                group.cancel_scope.cancel()  # ends the background task
        except Exception as exc:
            await send({"type": "lifespan.startup.failed", "message": str(exc)})
            return
        await send({"type": "lifespan.shutdown.complete"})

    async def _start(self, version: _Version) -> None:
        assert self._group is not None, "the switch's lifespan is not running"
        self._group.start_soon(version.run)
        await version.started.wait()
        if version.failure is not None:
            raise ConfigError(f"{version.label} failed to start: {version.failure}")

    async def replace(self, label: str, app: Starlette, *, drain_timeout: float = 60.0) -> None:
        """Start ``app``, route new requests to it, then retire the old version."""
        async with self._lock:
            new = _Version(label, app)
            await self._start(new)  # raises, and nothing changes, if it cannot start
            old, self._current = self._current, new
            with anyio.move_on_after(drain_timeout):
                while old.inflight:
                    await anyio.sleep(0.01)
            old.stop.set()
            await old.stopped.wait()
            log.info("replaced %s with %s", old.label, label)
