"""``python -m services.versions``: serve the Versions API and its web page."""

from __future__ import annotations

from fastapi import FastAPI

from ratchet.objects import open_object_store
from ratchet.serving import run_service
from ratchet.telemetry import setup_telemetry

from .app import create_app
from .settings import VersionsSettings


def build(settings: VersionsSettings) -> FastAPI:
    setup_telemetry("versions", settings, store=open_object_store(settings))
    return create_app(settings)


def main() -> None:
    run_service(build, VersionsSettings)


if __name__ == "__main__":
    main()
