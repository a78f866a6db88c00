"""``python -m services.architect``: serve the Architect's REST API and run its jobs."""

from __future__ import annotations

from starlette.types import ASGIApp

from ratchet.objects import open_object_store
from ratchet.serving import run_service
from ratchet.telemetry import setup_telemetry

from .app import create_app, with_body_limit
from .settings import ArchitectSettings


def build(settings: ArchitectSettings) -> ASGIApp:
    setup_telemetry("architect", settings, store=open_object_store(settings))
    return with_body_limit(create_app(settings), settings)


def main() -> None:
    run_service(build, ArchitectSettings)


if __name__ == "__main__":
    main()
