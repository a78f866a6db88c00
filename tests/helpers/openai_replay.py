"""A local OpenAI-compatible chat-completions server that replays recorded answers.

No real LLM endpoint is reachable from the test machines, so the ``llm``
coder's tests talk to this stand-in instead: a real HTTP server in its own
process (``python -m tests.helpers.openai_replay SCRIPT``, port 0, one
``{"event": "ready", "url": ...}`` line once it listens) that speaks the
wire format of ``POST /v1/chat/completions`` — request validation, the
``choices``/``usage`` body, OpenAI's error body for HTTP errors.

The script (JSON, from ``tests/fixtures/llm/``) is a list of ``answers``
served in order: ``{"content": str | [lines], "usage": {...} | null}`` or
``{"status": 429, "error": "..."}``. A request past the end gets a 500.
Every request (headers that matter, JSON body) is recorded and served back
at ``GET /requests`` so a test can assert what the coder sent.
"""

from __future__ import annotations

import json
import string
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "llm"
COMPLETIONS = "/v1/chat/completions"


class Replay:
    """The script and what was asked of it (shared by the handler threads)."""

    def __init__(self, answers: list[dict[str, Any]]) -> None:
        self.answers = answers
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def next(self, request: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        with self.lock:
            self.requests.append(request)
            number = len(self.requests)
        if number > len(self.answers):
            return 500, None
        return number, self.answers[number - 1]


def _bad_request(body: Any) -> str | None:
    """What OpenAI would refuse with a 400, in its words (roughly)."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "you must provide a model parameter"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty array"
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in (
            "system",
            "user",
            "assistant",
        ):
            return f"messages[{i}]: invalid role"
        if not isinstance(message.get("content"), str):
            return f"messages[{i}].content must be a string"
    return None


def _completion(number: int, model: str, answer: dict[str, Any]) -> dict[str, Any]:
    content = answer["content"]
    if isinstance(content, list):
        content = "\n".join(content)
    body: dict[str, Any] = {
        "id": f"chatcmpl-replay-{number}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
    }
    usage = answer.get("usage")
    if usage is not None:
        body["usage"] = {**usage, "total_tokens": sum(usage.values())}
    return body


def handler(replay: Replay) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet: stdout is the protocol
            pass

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str) -> None:
            self._send(status, {"error": {"message": message, "type": "replay_error"}})

        def do_GET(self) -> None:
            if self.path == "/health":
                self._send(200, {"status": "ok"})
            elif self.path == "/requests":
                with replay.lock:
                    self._send(200, list(replay.requests))
            else:
                self._error(404, f"no route {self.path}")

        def do_POST(self) -> None:
            if self.path != COMPLETIONS:
                self._error(404, f"no route {self.path}")
                return
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw)
            except ValueError:
                self._error(400, "the body is not JSON")
                return
            problem = _bad_request(body)
            if problem is not None:
                self._error(400, problem)
                return
            number, answer = replay.next(
                {"authorization": self.headers.get("Authorization"), "body": body}
            )
            if answer is None:
                self._error(500, f"the replay script has no answer {len(replay.requests)}")
            elif "status" in answer:
                self._error(int(answer["status"]), str(answer.get("error", "scripted error")))
            else:
                self._send(200, _completion(number, body["model"], answer))

    return Handler


def write_script(fixture: str, destination: Path, **values: str) -> Path:
    """The fixture ``fixture`` with its ``$name`` placeholders filled from ``values``
    (text derived from the workspace at test time), written to ``destination``."""
    raw = json.loads((FIXTURES / fixture).read_text())

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return string.Template(value).substitute(values)
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value

    destination.write_text(json.dumps(fill(raw), indent=1))
    return destination


@dataclass
class ReplayServer:
    url: str  # the server's root; the OpenAI base URL is ``{url}/v1``

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def requests(self) -> list[dict[str, Any]]:
        import httpx

        recorded: list[dict[str, Any]] = httpx.get(f"{self.url}/requests").json()
        return recorded


@contextmanager
def replaying(script: Path) -> Iterator[ReplayServer]:
    """The replay server as a real process, until the block ends."""
    from tests.helpers.processes import running

    with running("tests.helpers.openai_replay", {}, timeout=30, args=(str(script),)) as service:
        yield ReplayServer(service.url)


def main() -> None:
    script = json.loads(Path(sys.argv[1]).read_text())
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(Replay(list(script["answers"]))))
    port = server.server_address[1]
    print(json.dumps({"event": "ready", "url": f"http://127.0.0.1:{port}"}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
