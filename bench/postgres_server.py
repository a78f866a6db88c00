"""A throwaway PostgreSQL server for the benches: initdb, start, serve, remove.

The tests have their own (``tests/helpers/postgres.py``, one server per xdist worker,
durability off); the benches do not import the tests, and this one keeps Postgres's
durable defaults (``fsync``, ``synchronous_commit``, on disk under /tmp), so a
committed row means what it means in production. Debian's ``postgresql`` package
(``make postgres``) is run as the ``postgres`` user when the bench runs as root.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

USER = "ratchet"
POLL_S = 0.05
SETTINGS = ("-c", "listen_addresses=127.0.0.1", "-c", "max_connections=100")


def _binaries() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: p.parts)
    if found:
        return found[-1].parent
    on_path = shutil.which("postgres")
    if on_path is None:
        raise RuntimeError("no PostgreSQL server installed: run `make postgres`")
    return Path(on_path).resolve().parent


def _server_user() -> tuple[int | None, int | None]:
    """The uid and gid to run the server as: ``postgres`` when we are root, else ours."""
    if os.geteuid() != 0:
        return None, None
    entry = pwd.getpwnam("postgres")
    return entry.pw_uid, entry.pw_gid


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_postgres(database: str = "ratchet") -> Iterator[str]:
    """A fresh server with one empty ``database``; yields its URL, removed afterwards."""
    binaries, (uid, gid) = _binaries(), _server_user()
    root = Path(tempfile.mkdtemp(prefix="ratchet-bench-pg-"))
    if uid is not None and gid is not None:
        os.chown(root, uid, gid)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}
    data, port = root / "data", _free_port()
    groups: list[int] | None = [] if uid is not None else None
    init = [str(binaries / "initdb"), "-D", str(data), "-U", USER, "-A", "trust"]
    subprocess.run(
        [*init, "-E", "UTF8", "--no-locale"],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
        user=uid,
        group=gid,
        extra_groups=groups,
    )
    server = subprocess.Popen(
        [str(binaries / "postgres"), "-D", str(data), "-p", str(port), "-k", str(root), *SETTINGS],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        user=uid,
        group=gid,
        extra_groups=groups,
    )
    try:
        admin = f"postgresql://{USER}@127.0.0.1:{port}/postgres"
        deadline = time.monotonic() + 30
        while True:  # poll a real connection until the server answers
            try:
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(f'CREATE DATABASE "{database}"')
                break
            except psycopg.OperationalError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(POLL_S)
        yield f"postgresql://{USER}@127.0.0.1:{port}/{database}"
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(root, ignore_errors=True)
