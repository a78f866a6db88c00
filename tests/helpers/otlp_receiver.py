"""A small OTLP/HTTP receiver, for real-process tests of the OTLP exporter.

Run with ``python -m tests.helpers.otlp_receiver OUT``: it listens on a free
loopback port, prints ``{"event": "ready", "url": ...}`` and accepts OTLP/HTTP
protobuf exports on ``/v1/traces``, ``/v1/metrics`` and ``/v1/logs``. Each
exported span is appended to the file ``OUT`` as one JSON line (decoded with
opentelemetry-proto, which the OTLP exporter depends on): its name, ids,
attributes and links, ids in the lowercase hex OpenTelemetry prints.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import KeyValue


def _attributes(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    """Scalar attribute values as Python values (what these tests compare)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        which = pair.value.WhichOneof("value")
        out[pair.key] = None if which is None else getattr(pair.value, which)
    return out


def spans_of(request: ExportTraceServiceRequest) -> list[dict[str, Any]]:
    """Every span in one export, flattened to JSON-able records."""
    records = []
    for resource_spans in request.resource_spans:
        service = _attributes(resource_spans.resource.attributes).get("service.name")
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                records.append(
                    {
                        "service": service,
                        "name": span.name,
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "attributes": _attributes(span.attributes),
                        "links": [
                            {
                                "trace_id": link.trace_id.hex(),
                                "span_id": link.span_id.hex(),
                                "attributes": _attributes(link.attributes),
                            }
                            for link in span.links
                        ],
                    }
                )
    return records


class Receiver(BaseHTTPRequestHandler):
    out: Path
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/v1/traces":
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            with self.lock, self.out.open("a") as file:
                file.writelines(json.dumps(record) + "\n" for record in spans_of(request))
            answer = ExportTraceServiceResponse().SerializeToString()
        else:  # metrics and logs: accepted, not kept (their empty responses encode alike)
            answer = b""
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


def main(out: Path) -> None:
    Receiver.out = out
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    print(json.dumps({"event": "ready", "url": url}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
