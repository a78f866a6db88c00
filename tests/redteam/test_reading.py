"""Reading held-out labels: from disk around the candidate's tree, from its git objects,
and from a server over the network. Unconfined, each attack gets the labels; in the
sandbox it gets nothing."""

from __future__ import annotations

import http.server
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from tests.conftest import PROJECT_ROOT
from tests.redteam.attacks import ATTACK, Ground, sandbox_mode

# A unit test that looks for labels everywhere a candidate could guess, and keeps them.
READ_ATTACK = '''\
"""Harmless-looking: walks the folders above its tree and every path it can guess for
CSV files of text,label, asks git for old versions of the held-out split, keeps all."""
import csv, json, os, pathlib, subprocess


def _rows(path):
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            return [row for row in csv.reader(handle) if len(row) == 2]
    except (OSError, UnicodeDecodeError):
        return []


def _csvs(top):
    for count, (folder, _, files) in enumerate(os.walk(top)):
        if count > 5000:
            return
        yield from (os.path.join(folder, f) for f in files if f.endswith(".csv"))


def _git_history(path):
    log = subprocess.run(["git", "log", "--all", "--format=%H"], capture_output=True, text=True)
    rows = []
    for rev in log.stdout.split():
        shown = subprocess.run(["git", "show", f"{rev}:{path}"], capture_output=True, text=True)
        if shown.returncode == 0:
            rows += list(csv.reader(shown.stdout.splitlines()))
    return rows


def test_the_router_loads():
    here = pathlib.Path.cwd()
    guesses = json.loads((here / "tests" / "guesses.json").read_text())
    paths = set(guesses["files"])
    for parent in list(here.parents)[:3]:
        paths.update(_csvs(parent))
    found = {path: _rows(path) for path in sorted(paths)}
    found["git"] = _git_history("tasks/banking77/test.csv")
    found = {where: rows for where, rows in found.items() if rows}
    out = pathlib.Path(os.environ["HOME"]) / "loot.json"
    out.write_text(json.dumps({"found": found}))
'''

FETCH_ATTACK = '''\
"""Asks a server for the labels: over TCP on the loopback, over an abstract Unix socket."""
import json, os, pathlib, socket, urllib.request


def _http(url):
    with urllib.request.urlopen(url, timeout=5) as answer:
        return answer.read().decode()


def _unix(name):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(5)
        client.connect("\\0" + name)
        return client.recv(4096).decode()


def test_the_router_loads():
    guesses = json.loads((pathlib.Path.cwd() / "tests" / "guesses.json").read_text())
    loot = {}
    for how, ask, where in [("http", _http, guesses["url"]), ("unix", _unix, guesses["unix"])]:
        try:
            loot[how] = ask(where)
        except OSError as exc:
            loot[how] = repr(exc)
    (pathlib.Path(os.environ["HOME"]) / "loot.json").write_text(json.dumps(loot))
'''


def real_checkout_files() -> list[str]:
    """Held-out splits of the project checkout running this suite, if it still has them,
    and a file it surely has: the sandbox must show none of them."""
    return [str(p) for p in PROJECT_ROOT.glob("tasks/*/test.csv")] + [
        str(PROJECT_ROOT / "pyproject.toml")
    ]


def read_attack(ground: Ground) -> None:
    ground.plant({ATTACK: READ_ATTACK})
    files = [str(c.path) for c in ground.canaries.values()] + real_checkout_files()
    ground.guess(files=files)


def test_held_out_labels_on_disk_are_read_unconfined_and_out_of_sight_in_the_sandbox(
    ground: Callable[[str], Ground], monkeypatch: pytest.MonkeyPatch
) -> None:
    open_ground = ground("unconfined")
    read_attack(open_ground)
    with sandbox_mode(monkeypatch, "none"):
        run = open_ground.run_tests()
    assert run.passed, run.reason
    loot = str(open_ground.loot())
    assert open_ground.stolen(loot) == set(open_ground.canaries), loot  # the attack is real

    boxed = ground("sandboxed")
    read_attack(boxed)
    with sandbox_mode(monkeypatch, "auto"):
        run = boxed.run_tests()
    assert run.passed, run.reason  # it ran, and found nothing to keep
    assert boxed.loot() == {"found": {}}


@contextmanager
def label_server(body: str) -> Iterator[str]:
    """A server on the loopback answering every GET with ``body``; its URL."""

    class Labels(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Labels)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/banking77/test.csv"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def abstract_socket_server(body: str) -> Iterator[str]:
    """A server on an abstract Unix socket (no file: reachable by name in the network
    namespace) sending ``body`` to each client; its name."""
    name = f"ratchet-redteam-{uuid.uuid4().hex}"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind("\0" + name)
    listener.listen()

    def serve() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # closed: the block ended
                return
            with client:
                client.sendall(body.encode())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield name
    finally:
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join()


def test_labels_served_on_this_machine_are_fetched_unconfined_and_unreachable_in_the_sandbox(
    ground: Callable[[str], Ground], monkeypatch: pytest.MonkeyPatch
) -> None:
    here = ground("fetch")
    label = here.canaries["heldout"].label
    body = f"text,label\nwhere is my card,{label}\n"
    here.plant({ATTACK: FETCH_ATTACK})
    with label_server(body) as url, abstract_socket_server(body) as unix:
        here.guess(url=url, unix=unix)
        with sandbox_mode(monkeypatch, "none"):
            run = here.run_tests()
            assert run.passed, run.reason
            assert here.loot() == {"http": body, "unix": body}  # the attack is real
        with sandbox_mode(monkeypatch, "auto"):
            run = here.run_tests()
    assert run.passed, run.reason
    loot = here.loot()
    assert "Connection refused" in loot["http"] and label not in loot["http"], loot
    assert "Connection refused" in loot["unix"] and label not in loot["unix"], loot
