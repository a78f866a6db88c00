"""A tiny service served through :mod:`ratchet.serving`, for real-process tests.

Run with ``python -m tests.helpers.hello_service``; binds to
``RATCHET_HELLO_HOST``/``RATCHET_HELLO_PORT`` (port 0 by default).
``POST /crash`` makes the process die, to exercise the supervisor's restarts.
On a clean exit its exit handlers print ``{"event": "exit"}`` on stderr.
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import sys
from typing import ClassVar

from fastapi import FastAPI
from pydantic import Field

from ratchet.config import ServiceSettings
from ratchet.serving import run_service


class HelloSettings(ServiceSettings):
    service_name: ClassVar[str] = "hello"
    host: str = Field(default="127.0.0.1", alias="RATCHET_HELLO_HOST")
    port: int = Field(default=0, alias="RATCHET_HELLO_PORT")


app = FastAPI()


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/hello")
def hello() -> dict[str, int]:
    return {"pid": os.getpid()}


@app.get("/gc")
def frozen() -> dict[str, int]:
    """How many objects the process keeps out of the cyclic collector, and how many
    allocations start a collection of the youngest generation."""
    return {"frozen": gc.get_freeze_count(), "young_threshold": gc.get_threshold()[0]}


@app.post("/crash")
def crash() -> None:
    os._exit(3)


if __name__ == "__main__":
    # Exit handlers are where telemetry is flushed: this line says they ran.
    atexit.register(print, json.dumps({"event": "exit"}), file=sys.stderr, flush=True)
    run_service(lambda settings: app, HelloSettings)
