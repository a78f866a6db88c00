"""moto's S3-compatible server, handling one request at a time.

moto checks ``If-Match`` / ``If-None-Match`` and then stores the object with
no lock around the two, so under its threaded server two conditional PUTs on
the same ETag can both succeed: a race real S3 does not have (its conditional
writes are atomic). Serialising requests gives the stand-in S3's guarantee,
so the compare-and-swap tests test our code, not moto's race.

    python -m tests.helpers.moto_atomic HOST PORT
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


class OneAtATime:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        with self.lock:
            return list(self.app(environ, start_response))  # the body, built under the lock


if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    run_simple(
        host,
        port,
        OneAtATime(DomainDispatcherApplication(create_backend_app)),
        threaded=True,
        request_handler=MotoRequestHandler,
    )
