"""The Versions API application: routes, error handlers, an honest OpenAPI.

Read-only: nothing here writes to git, the State Manager or the object store.
Request validation fails with 400 and a reason (not FastAPI's 422), and the
published schema says so, so clients and schemathesis see what is served.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

import ratchet
from ratchet.auth import PUBLIC_PATHS_ATTR
from ratchet.rest import install_handlers

from .errors import STATUSES
from .models import Health
from .registry import VersionRegistry
from .routes import kpis, page, pointer, rollouts, task, versions
from .settings import VersionsSettings

DESCRIPTION = (
    "Read-only registry of Ratchet's releases, from the workspace's git tags and the "
    "eval summaries in the object store. Every JSON answer carries an ETag; send it back "
    "in `If-None-Match` for a 304."
)


class VersionsAPI(FastAPI):
    def openapi(self) -> dict[str, Any]:
        """FastAPI's schema, with its unused 422 answers replaced by the 400 we send."""
        if self.openapi_schema is None:
            schema = super().openapi()
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    responses = operation.get("responses", {})
                    if responses.pop("422", None) is not None:
                        responses.setdefault(
                            "400",
                            {
                                "description": "Malformed input.",
                                "content": {
                                    "application/json": {
                                        "schema": {"$ref": "#/components/schemas/Problem"}
                                    }
                                },
                            },
                        )
            components = schema.get("components", {}).get("schemas", {})
            components.pop("HTTPValidationError", None)
            components.pop("ValidationError", None)
            self.openapi_schema = schema
        return self.openapi_schema


def create_app(settings: VersionsSettings, registry: VersionRegistry | None = None) -> FastAPI:
    app = VersionsAPI(
        title="Ratchet Versions API",
        version=ratchet.__version__,
        description=DESCRIPTION,
    )
    app.state.registry = registry or VersionRegistry.from_settings(settings)
    install_handlers(app, "versions service", STATUSES)

    @app.get("/healthz", response_model=Health, tags=["health"])
    def healthz() -> Health:
        """Liveness: answers without a token, touches no store."""
        return Health()

    app.include_router(versions.router)
    app.include_router(pointer.router)
    app.include_router(rollouts.router)
    app.include_router(kpis.router)
    app.include_router(task.router)
    app.include_router(page.router)
    page.mount_static(app)
    # The page's HTML and scripts hold no data; with RATCHET_TOKEN set they load
    # without it and ask the person for the token before the first API call.
    setattr(app, PUBLIC_PATHS_ATTR, ("/", "/static/*"))
    return app
