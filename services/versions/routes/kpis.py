"""``/kpis``: the key metrics of every release that has an eval summary, and the
budgets they are held to: the data behind the web page's chart, in one call."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..etags import NOT_MODIFIED, etagged
from ..models import KpiSeries, Problem
from . import Registry

router = APIRouter(tags=["versions"])


@router.get(
    "/kpis",
    response_model=KpiSeries,
    responses={**NOT_MODIFIED, 503: {"model": Problem, "description": "No workspace yet."}},
    summary="Key metrics per release, with the budgets",
)
def kpis(request: Request, registry: Registry) -> Response:
    """Held-out accuracy, p95 latency and error rate per release (oldest first), and
    the budgets of `ci/budgets.json` at the active version."""
    return etagged(request, registry.kpi_series())
