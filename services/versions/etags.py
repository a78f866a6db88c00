"""JSON answers with strong ETags, and 304 for a client that already has them.

The ETag is a hash of the exact body, so it changes exactly when the answer
does (a new tag, a moved pointer, a summary written later) and no route has
to reason about what its answer depends on. Clients revalidate every time
(``Cache-Control: no-cache``); a match costs them no body.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

CACHE_CONTROL = "no-cache"

NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the `If-None-Match` ETag still matches."}
}


def encode(payload: BaseModel | dict[str, Any]) -> bytes:
    data = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def etag_of(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison: ``*``, or any listed tag equal once ``W/`` is dropped."""
    if not if_none_match:
        return False
    wanted = etag.removeprefix("W/")
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == wanted:
            return True
    return False


def etagged(request: Request, payload: BaseModel | dict[str, Any]) -> Response:
    """200 with the body and its ETag, or 304 when ``If-None-Match`` already names it."""
    body = encode(payload)
    etag = etag_of(body)
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
