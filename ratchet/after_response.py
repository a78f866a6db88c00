"""Work a request leaves until its response is sent (an ASGI middleware).

A caller waits for every microsecond spent before its answer leaves, but not for
what follows it: a call's audit row and its metrics describe the call and can be
written after the answer, while the client reads it. :class:`AfterResponse`
gives each HTTP request a list; :func:`after_response` puts work on it, and the
middleware runs that work once the app has sent its response and returned,
before the request ends (so a server that drains its requests on shutdown, or a
hot swap that waits for a version's requests, waits for it too).

Outside such a request (stdio, an in-process client, a test) the work runs at
once, so nothing is ever dropped. A SIGKILL between the answer and the work
loses the work: defer only what may be lost with the process, never what the
answer promises (a turn stays committed before it is answered).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar

import anyio
from starlette.types import ASGIApp, Receive, Scope, Send

Work = Callable[[], Awaitable[None]]

_pending: ContextVar[list[Work] | None] = ContextVar("ratchet_after_response", default=None)
log = logging.getLogger(__name__)


async def after_response(work: Work) -> None:
    """Run ``work`` once the current request's response is sent; now if there is none."""
    pending = _pending.get()
    if pending is None:
        with anyio.CancelScope(shield=True):
            await work()
    else:
        pending.append(work)


class AfterResponse:
    """Runs what a request deferred after the wrapped app returns (its response sent),
    in the order deferred, even if the request was cancelled (a client that hung up
    was still answered, or its call still happened); a failure is logged and does not
    stop the rest."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        pending: list[Work] = []
        token = _pending.set(pending)
        try:
            await self.app(scope, receive, send)
        finally:
            _pending.reset(token)
            with anyio.CancelScope(shield=True):
                for work in pending:
                    try:
                        await work()
                    except Exception:
                        log.exception("work deferred after a response failed")
