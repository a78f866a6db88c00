"""``/``: the web page (static HTML, CSS and JS; no build step, nothing from a CDN)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

STATIC = Path(__file__).resolve().parents[1] / "static"

router = APIRouter(tags=["page"])


@router.get("/", response_class=HTMLResponse, summary="The release timeline and KPI chart")
def index() -> HTMLResponse:
    """The page; it reads the same JSON endpoints any client does."""
    return HTMLResponse((STATIC / "index.html").read_text(), headers={"Cache-Control": "no-cache"})


class Revalidated(StaticFiles):
    """Static files the browser revalidates on every load (ETag/Last-Modified make
    that a 304), so a new release of the page is never hidden behind a stale cache."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        return response


def mount_static(app: FastAPI) -> None:
    app.mount("/static", Revalidated(directory=STATIC), name="static")
