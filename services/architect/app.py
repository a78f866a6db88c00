"""The Architect's application: intake, jobs, health; the worker runs in its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp

import ratchet
from ratchet.audit import AuditLog
from ratchet.ci.budgets import load_budgets
from ratchet.rest import install_handlers
from ratchet.rollouts.controller import RolloutController
from ratchet.rollouts.revert import revert_aborted
from ratchet.sessions import SessionStore

from .context import ArchitectContext
from .errors import BodyLimit
from .jobs import JobStatus
from .models import Health
from .routes import intake, jobs, proposals, rollouts
from .settings import ArchitectSettings
from .triggerer import Triggerer
from .tuning import ask_tuner_on_promotion
from .worker import Worker

DESCRIPTION = (
    "Turns textual feedback (optionally a unified diff) and the Triggerer's alarms into "
    "jobs: a coder's candidates go through the path policy and the micro, fast and full "
    "CI tiers, and the best that does not regress is released as a minor or major version."
)


class ArchitectAPI(FastAPI):
    def openapi(self) -> dict[str, Any]:
        """FastAPI's schema with its unused 422 answers dropped (we answer 400)."""
        if self.openapi_schema is None:
            schema = super().openapi()
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    operation.get("responses", {}).pop("422", None)
            components = schema.get("components", {}).get("schemas", {})
            components.pop("HTTPValidationError", None)
            components.pop("ValidationError", None)
            self.openapi_schema = schema
        return self.openapi_schema


def create_app(
    settings: ArchitectSettings,
    ctx: ArchitectContext | None = None,
    *,
    run_worker: bool = True,
    run_triggerer: bool | None = None,
) -> FastAPI:
    """``run_triggerer`` defaults to the setting, and to off when the worker does not run."""
    context = ctx or ArchitectContext.from_settings(settings)
    worker = Worker(context)
    if run_triggerer is None:
        run_triggerer = run_worker and settings.triggerer

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if run_worker:
            worker.start()
        triggerer = Triggerer.from_context(context, worker.notify) if run_triggerer else None
        app.state.triggerer = triggerer
        if triggerer is not None:
            triggerer.start()
        controller = rollout_controller(context) if run_worker else None
        app.state.rollouts = controller
        if controller is not None:
            controller.start()
        try:
            yield
        finally:
            if controller is not None:
                controller.close()
            if triggerer is not None:
                triggerer.stop()
            worker.stop()
            if ctx is None:
                context.close()

    app = ArchitectAPI(
        title="Ratchet Architect",
        version=ratchet.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.context = context
    app.state.worker = worker
    install_handlers(app, "architect")

    @app.get("/healthz", response_model=Health, tags=["health"])
    def healthz() -> Health:
        """Liveness, and how many jobs wait or run."""
        return Health(
            queued=len(context.jobs.jobs(limit=10_000, status=JobStatus.QUEUED)),
            running=len(context.jobs.jobs(limit=10_000, status=JobStatus.RUNNING)),
        )

    app.include_router(intake.router)
    app.include_router(jobs.router)
    app.include_router(proposals.router)
    app.include_router(rollouts.router)
    return app


def rollout_controller(context: ArchitectContext) -> RolloutController:
    """The home's rollout controller, in this process (one per home is enough; two would
    be safe: their decisions are compare-and-swap writes)."""
    settings = context.settings
    return RolloutController(
        context.manager,
        context.deliverer.rollouts,
        SessionStore.open(settings),
        AuditLog.open(settings),
        lambda: load_budgets(settings.workspace_path).rollout,
        interval_s=settings.rollout_interval,
        on_promoted=lambda rollout: ask_tuner_on_promotion(context, rollout),
        on_aborted=lambda rollout: revert_aborted(context.releases, context.manager, rollout),
    )


def with_body_limit(app: FastAPI, settings: ArchitectSettings) -> ASGIApp:
    return BodyLimit(app, settings.max_body_bytes)
