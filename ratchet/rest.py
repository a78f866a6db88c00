"""The REST services' edge: library errors and bad requests become answers with a reason.

Every answer is ``{"detail": ...}``. Malformed JSON and invalid fields are 400
(not FastAPI's 422), library errors keep their meaning (``NotFoundError`` is
a 404), and anything unexpected is a 500 whose details go to the log, never
a traceback to the client.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ratchet.errors import ConflictError, NotFoundError, RatchetError

log = logging.getLogger(__name__)


class InvalidRequest(RatchetError):
    """Malformed input the request models cannot express (a bad version, a bad diff): 400."""


StatusMap = Sequence[tuple[type[RatchetError], int]]
STATUS: StatusMap = ((InvalidRequest, 400), (NotFoundError, 404), (ConflictError, 409))


def problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def describe_validation(exc: RequestValidationError) -> str:
    """``limit: Input should be less than or equal to 500; kind: ...``, or the JSON error."""
    parts = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            return f"malformed JSON: {error.get('ctx', {}).get('error', 'cannot parse the body')}"
        loc = error.get("loc", ())
        where = ".".join(str(p) for p in loc if p not in ("body", "query", "path"))
        parts.append(f"{where or (loc[0] if loc else 'request')}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install_handlers(app: FastAPI, service: str, statuses: StatusMap = ()) -> None:
    """Convert errors at ``app``'s edge; ``statuses`` adds the service's own error types."""
    table = (*statuses, *STATUS)

    async def ratchet_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RatchetError)
        status = next((code for cls, code in table if isinstance(exc, cls)), 500)
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
        return problem(500, f"internal error: the {service} logged the details")

    app.add_exception_handler(RatchetError, ratchet_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
