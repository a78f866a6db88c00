"""What a confined candidate process can see, reach and change."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from ratchet.ci.children import run, start
from ratchet.objects.artifacts import CACHE_ENV
from ratchet.sandbox import confine
from tests.core.sandbox.conftest import requires_bwrap

pytestmark = requires_bwrap

PROBE = r"""
import json, os, sys
paths = json.loads(sys.argv[1])
seen = {}
for path in paths:
    try:
        with open(path) as handle:
            seen[path] = handle.read()
    except OSError as exc:
        seen[path] = type(exc).__name__
print(json.dumps({"seen": seen, "env": sorted(os.environ), "cwd": os.getcwd()}))
"""


def confined_python(tree: Path, code: str, *args: str) -> dict[str, Any]:
    done = run(
        [sys.executable, "-c", code, *args],
        confinement=confine(tree),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def test_the_tree_is_readable_and_nothing_beside_it(tree: Path, tmp_path: Path) -> None:
    secret = tmp_path / "heldout.csv"  # beside the tree: a parent folder's file
    secret.write_text("text,label\nhi,greeting\n")
    answer = confined_python(tree, PROBE, json.dumps([str(tree / "module.py"), str(secret)]))
    assert answer["seen"] == {
        str(tree / "module.py"): "VALUE = 1\n",
        str(secret): "FileNotFoundError",
    }
    assert answer["cwd"] == str(tree)


def test_the_repository_behind_the_tree_is_hidden(tree: Path) -> None:
    answer = confined_python(tree, PROBE, json.dumps([str(tree / ".git" / "HEAD")]))
    assert answer["seen"] == {str(tree / ".git" / "HEAD"): "FileNotFoundError"}


def test_the_environment_is_built_not_inherited(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RATCHET_TOKEN", "s3cret")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "also-secret")
    answer = confined_python(tree, PROBE, "[]")
    env = set(answer["env"])
    assert "RATCHET_TOKEN" not in env and "AWS_SECRET_ACCESS_KEY" not in env
    assert {"PATH", "HOME", "TMPDIR", "PYTHONPATH", CACHE_ENV} <= env


WRITE = r"""
import json, sys
results = {}
for path in json.loads(sys.argv[1]):
    try:
        with open(path, "w") as handle:
            handle.write("changed")
        results[path] = "written"
    except OSError as exc:
        results[path] = type(exc).__name__
print(json.dumps({"seen": results, "env": [], "cwd": ""}))
"""


def test_only_the_volume_is_writable(tree: Path, tmp_path: Path) -> None:
    outside = tmp_path / "budgets.json"
    outside.write_text("{}")
    volume = confine(tree).volume
    targets = [
        str(tree / "module.py"),
        # Beside the tree: its folder exists in the sandbox's own small /tmp (as the
        # tree's mount point's parent), so the write lands there and is thrown away.
        str(outside),
        str(Path(sys.executable).parent / "planted"),  # the runtime
        "/planted",  # the root of its view
        str(volume / "tmp" / "scratch"),
    ]
    answer = confined_python(tree, WRITE, json.dumps(targets))
    seen = answer["seen"]
    assert seen == {
        targets[0]: "OSError",  # a read-only file system
        targets[1]: "written",
        targets[2]: "OSError",
        targets[3]: "OSError",
        targets[4]: "written",
    }
    assert (tree / "module.py").read_text() == "VALUE = 1\n"
    assert outside.read_text() == "{}"
    assert not (Path(sys.executable).parent / "planted").exists()


class _Labels(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"text,label\nhi,greeting\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


FETCH = r"""
import json, sys, urllib.request
try:
    got = urllib.request.urlopen(sys.argv[1], timeout=5).read().decode()
except OSError as exc:
    got = type(exc).__name__
print(json.dumps({"seen": {"url": got}, "env": [], "cwd": ""}))
"""


def test_no_network_reaches_a_server_on_the_host(tree: Path) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Labels)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/labels.csv"
    try:
        with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=5):
            pass  # the server answers from here
        answer = confined_python(tree, FETCH, url)
    finally:
        server.shutdown()
    assert answer["seen"] == {"url": "URLError"}


GRACEFUL = r"""
import os, signal, sys, time
def bye(*args):  # os.write: the signal may come while print("ready") is still writing
    os.write(1, b"clean shutdown\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, bye)
print("ready", flush=True)
time.sleep(60)
"""


def test_a_stopped_candidate_is_asked_to_end_as_serving_asks_it(tree: Path) -> None:
    """SIGTERM reaches the process inside the sandbox (bubblewrap itself would answer
    it by SIGKILLing the candidate), so its shutdown runs as under the supervisor."""
    child = start(
        [sys.executable, "-c", GRACEFUL],
        confinement=confine(tree),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.process.stdout is not None
    assert child.process.stdout.readline().strip() == "ready"
    assert child.stop(grace=10) == 0
    assert child.process.stdout.read().strip() == "clean shutdown"
