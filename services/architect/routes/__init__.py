"""The Architect's routes, one module per resource."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..context import ArchitectContext
from ..worker import Worker


def _context(request: Request) -> ArchitectContext:
    ctx: ArchitectContext = request.app.state.context
    return ctx


def _worker(request: Request) -> Worker:
    worker: Worker = request.app.state.worker
    return worker


Context = Annotated[ArchitectContext, Depends(_context)]
JobWorker = Annotated[Worker, Depends(_worker)]
