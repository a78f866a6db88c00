"""The canary's own agent code, for a canary whose release changed the Runner's code.

A rollout's canary may be a minor release that adds or changes files under
``services/runner/agent/``: its answers must come from its code, not from the
stable code under its name. Its commit-scoped build (:class:`ratchet.builds.BuildStore`)
is imported under an alias of its own, ``ratchet_canary_<commit12>``, distinct
from the release follower's ``ratchet_build_<commit12>``, so promoting the
canary (the follower then loads that commit's whole app) never collides with
it; the alias is dropped when the canary goes away. Only the agent's
``RouterFactory`` is used: the stable code's ``route`` tool records and audits
the turn, and asks the canary's router for the answer.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Protocol, cast

from ratchet.builds import BuildStore
from ratchet.hotswap import load_package, unload_package
from ratchet.objects import ObjectStore

PACKAGE = "services/runner"


class Factory(Protocol):
    """What the Runner needs of a build's ``agent.build.RouterFactory``."""

    def build(self, data: dict[str, Any]) -> Any: ...


class CanaryCode:
    """One canary commit's agent code, loaded from its build; ``close`` unloads it."""

    def __init__(self, commit: str, builds: BuildStore, store: ObjectStore) -> None:
        self.commit = commit
        self.alias = f"ratchet_canary_{commit[:12]}"
        build: Path = builds.ensure(commit)
        package = load_package(build, PACKAGE, self.alias)
        try:
            module = importlib.import_module(f"{package.__name__}.agent.build")
            # The build's datasets and model code, as its own Runner would use them.
            self.factory = cast(Factory, module.RouterFactory(store, build))
        except BaseException:
            unload_package(self.alias)
            raise

    def close(self) -> None:
        """Forget the modules (routers built from them keep working until dropped)."""
        unload_package(self.alias)
