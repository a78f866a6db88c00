"""``python -m services.runner [--stdio]``: serve the Runner.

Over HTTP the process is a host for the active release's code: it serves the
commit-scoped build of the active version and moves to a new build when a
release changes the Runner's code (see README: hot reload). ``--stdio`` serves
this checkout's code to one client on stdin/stdout.
"""

from __future__ import annotations

import sys

from ratchet.builds import BuildStore
from ratchet.config import load
from ratchet.objects import open_object_store
from ratchet.release_follower import ReleaseFollower
from ratchet.serving import run_service
from ratchet.state import open_state_manager
from ratchet.telemetry import setup_telemetry

from .app import build_server, make_runtime
from .settings import RunnerSettings


def follow_releases(settings: RunnerSettings) -> ReleaseFollower:
    setup_telemetry("runner", settings, store=open_object_store(settings))
    return ReleaseFollower(
        settings,
        open_state_manager(settings),
        BuildStore.open(settings),
        package="services/runner",
        poll_interval=settings.poll_interval,
    )


def serve_stdio() -> None:
    settings = load(RunnerSettings)
    runtime = make_runtime(settings)
    runtime.start()
    try:
        build_server(runtime).run("stdio")
    finally:
        runtime.stop()


def main() -> None:
    if "--stdio" in sys.argv[1:]:
        serve_stdio()
        return
    run_service(lambda settings: follow_releases(settings).switch(), RunnerSettings)


if __name__ == "__main__":
    main()
