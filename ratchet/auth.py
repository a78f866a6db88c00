"""Bearer-token check shared by all four processes (an ASGI middleware).

Off when no token is configured (loopback only, see :mod:`ratchet.config`).
Health checks stay open so orchestrators can probe without the secret, and
an app may declare more public paths (``PUBLIC_PATHS_ATTR``): the Versions
page's HTML and scripts, which hold no data and ask for the token before
they read any.
"""

from __future__ import annotations

import hmac

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

OPEN_PATHS = frozenset({"/healthz"})
# An app's own public paths: exact ("/"), or prefixes ending in "*" ("/static/*").
PUBLIC_PATHS_ATTR = "ratchet_public_paths"


def public_paths(app: object) -> tuple[str, ...]:
    """What ``app`` declares public (nothing unless it says so)."""
    return tuple(getattr(app, PUBLIC_PATHS_ATTR, ()))


class BearerTokenMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        token: str | None,
        open_paths: frozenset[str] = OPEN_PATHS,
        open_prefixes: tuple[str, ...] = (),
    ):
        self.app = app
        self.token = token.encode() if token else None
        self.open_paths = open_paths
        self.open_prefixes = open_prefixes

    def _open(self, path: str) -> bool:
        return path in self.open_paths or path.startswith(self.open_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.token is None or scope["type"] != "http" or self._open(scope["path"]):
            await self.app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, presented = header.partition(b" ")
        if scheme.lower() == b"bearer" and hmac.compare_digest(presented.strip(), self.token):
            await self.app(scope, receive, send)
            return
        refusal = JSONResponse(
            {"detail": "missing or invalid bearer token"},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="ratchet"'},
        )
        await refusal(scope, receive, send)
