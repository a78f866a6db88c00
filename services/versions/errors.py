"""The Versions API's errors, and their conversion to HTTP answers at the edge.

Library errors keep their meaning (:class:`~ratchet.errors.NotFoundError` is a
404); this module adds the two the service raises itself. Every answer is a
:class:`~.models.Problem` with a reason a person can act on, never a traceback.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ratchet.errors import ConflictError, NotFoundError, RatchetError

log = logging.getLogger(__name__)


class InvalidRequest(RatchetError):
    """Malformed input (a version that is not vMAJOR.MINOR.PATCH, a bad cursor): 400."""


class Unavailable(RatchetError):
    """The registry cannot answer yet (no workspace): 503."""


STATUS: tuple[tuple[type[RatchetError], int], ...] = (
    (InvalidRequest, 400),
    (NotFoundError, 404),
    (ConflictError, 409),
    (Unavailable, 503),
)


def status_of(exc: RatchetError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 500  # a corrupt stored document: the message says which


def problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def describe_validation(exc: RequestValidationError) -> str:
    """``limit: Input should be less than or equal to 500; kind: ...``."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("query", "path"))
        parts.append(f"{where or 'request'}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install_handlers(app: FastAPI) -> None:
    async def ratchet_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RatchetError)
        status = status_of(exc)
        if status >= 500:
            log.error("%s %s: %s", request.method, request.url.path, exc)
        return problem(status, str(exc))

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return problem(400, describe_validation(exc))

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
        return problem(500, "internal error: the versions service logged the details")

    app.add_exception_handler(RatchetError, ratchet_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
