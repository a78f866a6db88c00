"""``python -m services.runner [--stdio]``: serve the Runner over HTTP or stdio."""

from __future__ import annotations

import sys

from ratchet.config import RunnerSettings, load
from ratchet.objects import open_object_store
from ratchet.serving import run_service
from ratchet.state import open_state_manager
from ratchet.telemetry import setup_telemetry

from .app import build_app, build_server
from .runtime import RunnerRuntime


def make_runtime(settings: RunnerSettings) -> RunnerRuntime:
    store = open_object_store(settings)
    setup_telemetry("runner", settings, store=store)
    return RunnerRuntime(settings, open_state_manager(settings), store)


def main() -> None:
    if "--stdio" in sys.argv[1:]:
        settings = load(RunnerSettings)
        runtime = make_runtime(settings)
        runtime.start()
        try:
            build_server(runtime).run("stdio")
        finally:
            runtime.stop()
        return
    run_service(lambda settings: build_app(make_runtime(settings)), RunnerSettings)


if __name__ == "__main__":
    main()
