"""A throwaway PostgreSQL server for a test session: initdb, start, serve, remove.

Debian's ``postgresql`` package (``make postgres`` installs it when missing) is run
from its own bin directory, as the ``postgres`` user when the tests run as root
(initdb and postgres refuse root). The cluster lives in a temporary directory of
its own and is deleted with the server; nothing of the package's own clusters is
used or touched.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from ratchet.ci.limits import tied_to_parent

SUPERUSER = "ratchet"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
BIND_ATTEMPTS = 5
POLL_S = 0.02
DEBIAN_BINARIES = Path("/usr/lib/postgresql")
PREFIX = "ratchet-pg-"

# Throwaway data: durability buys nothing, so every flush to disk is skipped (unless a
# bench asks for the server's durable defaults: see ``running_postgres``).
NOT_DURABLE = ("fsync", "synchronous_commit", "full_page_writes")
# max_connections covers several processes with pools of their own on one server
# (two Runners, a Tuner and two Architects in the real-process tests).
SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    # One server per xdist worker on a shared machine: small memory, no background
    # work competing with the tests (autovacuum on tables that live seconds).
    "shared_buffers": "32MB",
    "autovacuum": "off",
    "listen_addresses": "127.0.0.1",
    # Dynamic shared memory as files in the data directory, not /dev/shm segments:
    # a server killed with its test worker leaves nothing outside its directory.
    "dynamic_shared_memory_type": "mmap",
}


def bin_dir() -> Path:
    """The bin directory of the newest installed server (Debian's layout, else PATH)."""
    found = sorted(
        DEBIAN_BINARIES.glob("*/bin/postgres"),
        key=lambda path: [int(part) for part in re.findall(r"\d+", path.parent.parent.name)],
    )
    if found:
        return found[-1].parent
    on_path = shutil.which("postgres")
    if on_path is None:
        raise RuntimeError("no PostgreSQL server installed: run `make postgres`")
    return Path(on_path).resolve().parent


def default_base() -> Path:
    """Where clusters go: /dev/shm (tmpfs) when there is one, /tmp otherwise; both are
    reachable by the ``postgres`` user. Measured here, fsync off: on disk a start takes
    ~1.0 s and CREATE DATABASE 66 ms (up to 220 ms when the disk is busy); on tmpfs
    ~0.7 s and 12-21 ms."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return Path(tempfile.gettempdir())


def sweep_stale(base: Path) -> None:
    """Delete the clusters of servers that were killed (their worker SIGKILLed, the
    ``finally`` never ran): a directory whose postmaster is gone. One without a
    ``postmaster.pid`` may be another worker's initdb in progress: left alone."""
    for root in base.glob(f"{PREFIX}*"):
        try:
            pid = int((root / "data" / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            continue
        if not Path(f"/proc/{pid}").exists():
            shutil.rmtree(root, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class ServerUser:
    """Who runs initdb and postgres: this user, or ``postgres`` when this is root."""

    uid: int | None
    gid: int | None

    @classmethod
    def pick(cls) -> ServerUser:
        if os.geteuid() != 0:
            return cls(None, None)
        try:
            entry = pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError(
                "running as root and no `postgres` user to run the server as: "
                "install Debian's postgresql package (`make postgres`)"
            ) from None
        return cls(entry.pw_uid, entry.pw_gid)

    def own(self, path: Path) -> None:
        if self.uid is not None and self.gid is not None:
            os.chown(path, self.uid, self.gid)


def _server_env() -> dict[str, str]:
    """A minimal environment: none of a test's paths or its leak token, so the
    server is not taken for a process the test that started it left behind."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}


def _run_as(user: ServerUser, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=cwd,
        env=_server_env(),
        user=user.uid,
        group=user.gid,
        extra_groups=[] if user.uid is not None else None,
        capture_output=True,
        text=True,
        check=False,
    )


@dataclass
class PostgresServer:
    """A running server: its superuser URL and databases made for tests."""

    port: int
    root: Path
    data: Path
    process: subprocess.Popen[bytes]
    log: Path
    _admin: psycopg.Connection[tuple[object, ...]] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return self.database_url("postgres")

    def database_url(self, name: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{name}"

    def log_tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        """One autocommit connection for CREATE/DROP DATABASE (not allowed in a
        transaction), kept open: a connection costs more than the statement."""
        if self._admin is None or self._admin.closed:
            self._admin = psycopg.connect(self.url, autocommit=True)
        return self._admin

    def create_database(self, name: str) -> str:
        """A fresh, empty database (from template1); its URL."""
        self.admin().execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.database_url(name)

    def drop_database(self, name: str) -> None:
        """Drop it, ending any connection a test left open (WITH (FORCE))."""
        statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        self.admin().execute(statement.format(sql.Identifier(name)))

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        """Poll a real connection until our server answers, exits, or time is up."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None:
            try:
                if self._serves_our_cluster():
                    return
            except psycopg.OperationalError:
                pass  # not accepting connections yet
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"postgres not ready on port {self.port} after {timeout:.0f} s; "
                    f"its log:\n{self.log_tail()}"
                )
            time.sleep(POLL_S)  # polling for readiness, not waiting for time to pass
        raise ServerExited(self.process.returncode, self.log_tail())

    def _serves_our_cluster(self) -> bool:
        """Is the server on the port ours? Another one may hold the port we picked
        (ours then exits for it): its data directory tells them apart."""
        with psycopg.connect(self.url, connect_timeout=2) as conn:
            row = conn.execute("SHOW data_directory").fetchone()
        return row is not None and os.path.realpath(str(row[0])) == os.path.realpath(self.data)

    def stop(self) -> None:
        """Fast shutdown (SIGINT: open sessions are ended, not waited for), then kill."""
        if self._admin is not None:
            self._admin.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class ServerExited(RuntimeError):
    def __init__(self, code: int, log: str) -> None:
        super().__init__(f"postgres exited with {code} before it was ready; its log:\n{log}")
        self.log = log


def _initdb(binaries: Path, user: ServerUser, root: Path) -> Path:
    data = root / "data"
    args = [str(binaries / "initdb"), "-D", str(data), "-U", SUPERUSER, "-A", "trust"]
    # --no-sync: the cluster is thrown away, flushing it would only cost time.
    args += ["--auth-local=trust", "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions"]
    done = _run_as(user, args, root)
    if done.returncode != 0:
        raise RuntimeError(f"initdb failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return data


def _start(
    binaries: Path, user: ServerUser, root: Path, data: Path, durable: bool
) -> PostgresServer:
    """Start the server on a free port; pick another if one was taken meanwhile."""
    for _ in range(BIND_ATTEMPTS):
        port = free_port()
        log = root / f"postgres-{port}.log"
        args = [str(binaries / "postgres"), "-D", str(data), "-p", str(port), "-k", str(root)]
        for name, value in SETTINGS.items():
            if not (durable and name in NOT_DURABLE):
                args += ["-c", f"{name}={value}"]
        with log.open("wb") as out:
            process = subprocess.Popen(
                args,
                cwd=root,
                env=_server_env(),
                user=user.uid,
                group=user.gid,
                extra_groups=[] if user.uid is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=tied_to_parent(),  # a killed test worker takes it along
            )
        server = PostgresServer(port, root, data, process, log)
        try:
            server.wait_ready()
            return server
        except ServerExited as exited:
            if "Address already in use" not in exited.log:
                raise
        except BaseException:
            server.stop()
            raise
    raise RuntimeError(f"postgres found no free port in {BIND_ATTEMPTS} attempts")


@contextmanager
def running_postgres(base: Path, *, durable: bool = False) -> Iterator[PostgresServer]:
    """A fresh cluster in a temporary directory under ``base``, served until the block
    ends, then stopped and deleted. ``base`` must be reachable by the ``postgres``
    user when this runs as root (pytest's own basetemp is not: it is 0700).
    ``durable`` keeps Postgres's flushes to disk (the benches: a committed row then
    means what it means in production)."""
    binaries, user = bin_dir(), ServerUser.pick()
    sweep_stale(base)
    root = Path(tempfile.mkdtemp(prefix=PREFIX, dir=base))
    try:
        user.own(root)
        server = _start(binaries, user, root, _initdb(binaries, user, root), durable)
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
