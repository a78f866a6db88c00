"""Serving: the bearer check in-process, and a real process announcing readiness."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from ratchet.auth import PUBLIC_PATHS_ATTR, BearerTokenMiddleware
from ratchet.config import ServiceSettings
from ratchet.serving import YOUNG_GENERATION_THRESHOLD, secured
from tests.conftest import PROJECT_ROOT


def _app() -> FastAPI:
    app = FastAPI()
    app.get("/healthz")(lambda: {"status": "ok"})
    app.get("/data")(lambda: {"secret": 42})
    return app


def test_no_token_configured_means_open() -> None:
    client = TestClient(BearerTokenMiddleware(_app(), None))
    assert client.get("/data").json() == {"secret": 42}


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic s3cret", "Bearer", "s3cret"])
def test_a_missing_or_wrong_token_is_401(header: str | None) -> None:
    client = TestClient(BearerTokenMiddleware(_app(), "s3cret"))
    headers = {"Authorization": header} if header else {}
    response = client.get("/data", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"detail": "missing or invalid bearer token"}
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_the_right_token_passes_and_healthz_stays_open() -> None:
    client = TestClient(BearerTokenMiddleware(_app(), "s3cret"))
    assert client.get("/data", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.get("/healthz").status_code == 200


def test_an_app_declares_its_public_paths_exact_or_by_prefix() -> None:
    app = _app()
    app.get("/")(lambda: {"page": "no data"})
    app.get("/static/app.js")(lambda: {"code": "no data"})
    app.get("/staticky")(lambda: {"secret": 1})
    setattr(app, PUBLIC_PATHS_ATTR, ("/", "/static/*"))
    settings = ServiceSettings(token=SecretStr("s3cret"))
    client = TestClient(secured(app, settings))
    assert client.get("/").status_code == client.get("/static/app.js").status_code == 200
    assert client.get("/staticky").status_code == client.get("/data").status_code == 401
    assert client.get("/healthz").status_code == 200


@pytest.fixture
def hello_process() -> Iterator[tuple[subprocess.Popen[str], str]]:
    env = {**os.environ, "RATCHET_TOKEN": "s3cret", "RATCHET_HELLO_PORT": "0"}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.hello_service"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    ready = json.loads(process.stdout.readline())  # blocks until the server accepts
    try:
        yield process, ready["url"]
    finally:
        process.terminate()
        process.wait(15)


@pytest.mark.slow
def test_real_process_on_an_ephemeral_port_enforces_the_token(
    hello_process: tuple[subprocess.Popen[str], str],
) -> None:
    process, url = hello_process
    assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
    assert httpx.get(f"{url}/hello").status_code == 401
    ok = httpx.get(f"{url}/hello", headers={"Authorization": "Bearer s3cret"})
    assert ok.json() == {"pid": process.pid}
    assert httpx.get(f"{url}/healthz").status_code == 200


@pytest.mark.slow
def test_a_service_keeps_what_its_imports_made_out_of_the_collector(
    hello_process: tuple[subprocess.Popen[str], str],
) -> None:
    """Frozen before the app is built: a full collection does not walk the libraries;
    and a young collection waits for the served threshold's allocations, not 700."""
    _, url = hello_process
    collector = httpx.get(f"{url}/gc", headers={"Authorization": "Bearer s3cret"}).json()
    assert collector["frozen"] > 20_000
    assert collector["young_threshold"] == YOUNG_GENERATION_THRESHOLD


@pytest.mark.slow
def test_sigterm_stops_the_process_through_its_exit_handlers() -> None:
    """uvicorn re-raises SIGTERM after its graceful shutdown; the process must still
    run its exit handlers (the telemetry exporters' last flush), or a stopped
    service's final spans are lost."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.hello_service"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "RATCHET_HELLO_PORT": "0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert json.loads(process.stdout.readline())["event"] == "ready"
    process.terminate()
    _, stderr = process.communicate(timeout=15)
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert '{"event": "exit"}' in stderr.splitlines()


@pytest.mark.slow
def test_refuses_to_bind_off_loopback_without_a_token() -> None:
    env = {k: v for k, v in os.environ.items() if k != "RATCHET_TOKEN"}
    env["RATCHET_HELLO_HOST"] = "0.0.0.0"
    result = subprocess.run(
        [sys.executable, "-m", "tests.helpers.hello_service"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "RATCHET_TOKEN" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""  # never announced readiness


def test_accepted_connections_have_nodelay() -> None:
    """asyncio sets TCP_NODELAY only on a listening socket whose proto says TCP (not
    0); without it every call pays Nagle plus a delayed ACK (~40 ms)."""
    import asyncio
    import socket

    from ratchet.serving import bind_socket

    async def check() -> int:
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            sock = writer.get_extra_info("socket")
            seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        listener = bind_socket("127.0.0.1", 0)
        server = await asyncio.start_server(accepted, sock=listener)
        port = listener.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        value = await asyncio.wait_for(seen, 5)
        writer.close()
        server.close()
        return value

    assert asyncio.run(check()) == 1
