"""Work deferred until a response is sent: after the body, in order, never dropped."""

from __future__ import annotations

import logging
from collections.abc import Callable

import anyio
import pytest
from starlette.types import Message, Receive, Scope, Send

from ratchet.after_response import AfterResponse, Work, after_response

pytestmark = pytest.mark.anyio

HTTP: Scope = {"type": "http", "method": "GET", "path": "/", "headers": []}


async def nothing() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def noting(events: list[str], name: str) -> Work:
    async def work() -> None:
        events.append(name)

    return work


def answering(events: list[str], *deferred: Work) -> Callable[[Scope, Receive, Send], object]:
    """An app that defers ``deferred`` while it handles the request, then answers."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for work in deferred:
            await after_response(work)
        events.append("handled")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


def recording(events: list[str]) -> Send:
    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            events.append("sent")

    return send


async def test_deferred_work_runs_after_the_response_is_sent_in_order() -> None:
    events: list[str] = []
    app = answering(events, noting(events, "audit"), noting(events, "metrics"))
    await AfterResponse(app)(HTTP, nothing, recording(events))  # type: ignore[arg-type]
    assert events == ["handled", "sent", "audit", "metrics"]


async def test_outside_a_request_the_work_runs_at_once() -> None:
    events: list[str] = []
    await after_response(noting(events, "now"))
    assert events == ["now"]


async def test_a_failing_work_is_logged_and_the_rest_still_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events: list[str] = []

    async def broken() -> None:
        raise RuntimeError("disk full")

    app = answering(events, broken, noting(events, "after"))
    with caplog.at_level(logging.ERROR, logger="ratchet.after_response"):
        await AfterResponse(app)(HTTP, nothing, recording(events))  # type: ignore[arg-type]
    assert events == ["handled", "sent", "after"]
    assert "work deferred after a response failed" in caplog.text
    assert "disk full" in caplog.text


async def test_a_cancelled_request_still_runs_its_work() -> None:
    """The client hung up after the call happened: its record is still written, even
    if writing it has to wait (a worker thread, a database round trip)."""
    events: list[str] = []

    async def slow_record() -> None:
        await anyio.sleep(0.01)
        events.append("recorded")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await after_response(slow_record)
        await anyio.sleep_forever()

    async with anyio.create_task_group() as group:
        group.start_soon(AfterResponse(app), HTTP, nothing, recording(events))
        await anyio.wait_all_tasks_blocked()
        group.cancel_scope.cancel()
    assert events == ["recorded"]


async def test_other_scopes_pass_through_without_a_list() -> None:
    events: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await after_response(noting(events, "at once"))  # no request list: runs now
        events.append("returned")

    await AfterResponse(app)({"type": "websocket"}, nothing, recording(events))
    assert events == ["at once", "returned"]
