"""``python -m services.tuner [--stdio]``: serve the Tuner."""

from __future__ import annotations

import sys

from starlette.applications import Starlette

from ratchet.config import load
from ratchet.objects import open_object_store
from ratchet.serving import run_service
from ratchet.sessions import SessionStore
from ratchet.state import open_state_manager
from ratchet.telemetry import setup_telemetry

from .app import build_server, create_app
from .settings import TunerSettings


def main() -> None:
    if "--stdio" in sys.argv[1:]:
        settings = load(TunerSettings)
        sessions = SessionStore.open(settings)
        build_server(settings, open_state_manager(settings), sessions).run("stdio")
        return

    def build(settings: TunerSettings) -> Starlette:
        setup_telemetry("tuner", settings, store=open_object_store(settings))
        return create_app(settings)

    run_service(build, TunerSettings)


if __name__ == "__main__":
    main()
