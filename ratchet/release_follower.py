"""Following the active pointer with the serving code: a process serves the
code of the active release's commit-scoped build, and moves to a new build
when a release changes that code (state-only releases are swapped in by the
service itself, without touching the code).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast

import anyio
from starlette.applications import Starlette

from ratchet.builds import BuildStore
from ratchet.config import ServiceSettings
from ratchet.errors import NotFoundError
from ratchet.hotswap import AppSwitch, load_package, unload_package
from ratchet.state import StateManager

log = logging.getLogger(__name__)


class AppModule(Protocol):
    def create_app(
        self, settings: Any, admits: Callable[[str | None], bool] | None = None
    ) -> Starlette: ...


@dataclass(frozen=True)
class Loaded:
    label: str
    commit: str | None
    code_key: str | None
    alias: str | None
    app: Starlette


class ReleaseFollower:
    def __init__(
        self,
        settings: ServiceSettings,
        manager: StateManager,
        builds: BuildStore,
        *,
        package: str,
        poll_interval: float,
    ) -> None:
        self.settings = settings
        self.manager = manager
        self.builds = builds
        self.package = package  # e.g. "services/runner"; its app.create_app builds the app
        self.poll_interval = poll_interval
        self.current: Loaded | None = None
        self.replacements = 0
        self._refused: set[str] = set()  # code that failed to load: not retried until it changes
        self._missing: set[str] = set()  # commits without a build anywhere, already reported

    def load_active(self) -> Loaded:
        """Load the code of the active release (blocking; call off the event loop)."""
        pointer = self.manager.pointer()
        if pointer is None:
            raise NotFoundError(
                f"{self.settings.home_path} has no active version; run `ratchet init` first"
            )
        if pointer.commit is None:  # activated without a commit: serve this checkout's code
            local = cast(
                AppModule, importlib.import_module(f"{self.package.replace('/', '.')}.app")
            )
            return Loaded(
                f"{pointer.version} (local)", None, None, None, local.create_app(self.settings)
            )
        return self._load(pointer.version, pointer.commit)

    def _load(self, version: str, commit: str) -> Loaded:
        key = self._code_key(commit)
        build = self.builds.ensure(commit)
        alias = f"ratchet_build_{commit[:12]}"
        package = load_package(build, self.package, alias)
        try:
            module = cast(AppModule, importlib.import_module(f"{package.__name__}.app"))
            app = module.create_app(self.settings, admits=lambda c: self._same_code(c, key))
        except BaseException:
            unload_package(alias)
            raise
        return Loaded(f"{version} ({commit[:12]})", commit, key, alias, app)

    @functools.lru_cache(maxsize=256)  # noqa: B019 - one follower per process
    def _code_key(self, commit: str) -> str:
        return self.builds.code_key(commit, (self.package,))

    def _same_code(self, commit: str | None, key: str) -> bool:
        if commit is None:
            return False
        try:
            return self._code_key(commit) == key
        except NotFoundError:  # no build of it anywhere: not this code's to serve
            return False

    def switch(self) -> AppSwitch:
        self.current = self.load_active()
        return AppSwitch(self.current.label, self.current.app, background=self.follow)

    async def follow(self, switch: AppSwitch) -> None:
        """Poll the pointer; when the code changes, load the new build and replace."""
        while True:
            await anyio.sleep(self.poll_interval)
            try:
                await self._step(switch)
            except Exception:
                log.exception("following the active release failed; still serving %s", switch.label)

    async def _step(self, switch: AppSwitch) -> None:
        pointer = await anyio.to_thread.run_sync(self.manager.pointer)
        current = self.current
        if pointer is None or pointer.commit is None or current is None:
            return
        if pointer.commit == current.commit:
            return
        try:
            key = await anyio.to_thread.run_sync(
                self.builds.code_key, pointer.commit, (self.package,)
            )
        except NotFoundError as exc:
            # No build here or in the shared store (yet: its home publishes a release made
            # before the store was shared on its next start): tried again, said once.
            if pointer.commit not in self._missing:
                self._missing.add(pointer.commit)
                log.error(
                    "cannot serve %s: %s; still serving %s", pointer.version, exc, switch.label
                )
            return
        if key == current.code_key:
            # Same code (a state-only release): the app swaps the state itself.
            self.current = dataclasses.replace(current, commit=pointer.commit)
            return
        if key in self._refused:
            return
        try:
            loaded = await anyio.to_thread.run_sync(self._load, pointer.version, pointer.commit)
            await switch.replace(loaded.label, loaded.app)
        except Exception:
            self._refused.add(key)
            log.exception(
                "cannot serve the code of %s; still serving %s", pointer.version, switch.label
            )
            return
        self.current = loaded
        self.replacements += 1
        if current.alias is not None:
            unload_package(current.alias)
