"""A candidate's Runner or Tuner as a real process on an ephemeral port.

The full tier judges a candidate the way clients will meet it: the service
runs ``python -m services.<name>``, the entry point serving uses, from the
candidate's code root (its own code, with the tier's memory limit), in the
sandbox (:mod:`ratchet.sandbox`: no network, so it listens on a Unix socket
in its volume, ``RATCHET_<NAME>_SOCKET``, a setting serving has too), in a
throwaway home in its volume whose active pointer names the candidate's state
with no commit, so the service loads the code on its ``PYTHONPATH``.
Readiness is the service's ``{"event": "ready"}`` line, never a sleep; the
process is always stopped when the block ends, and with it whatever it
started; it also dies with the process running the tier, by SIGKILL too
(:mod:`ratchet.ci.children`).
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2

from ratchet.ci.budgets import TierLimits
from ratchet.ci.children import Child, start
from ratchet.config import CommonSettings
from ratchet.errors import RatchetError
from ratchet.sandbox import confine
from ratchet.state import StateDocument, open_state_manager

CANDIDATE_VERSION = "candidate"


class CandidateFailed(RatchetError):
    """The candidate service did not start, or died."""


@dataclass
class CandidateService:
    name: str
    url: str
    child: Child
    log: Path
    socket: Path

    @property
    def process(self) -> subprocess.Popen[str]:
        return self.child.process

    def http_client(self) -> httpx2.AsyncClient:
        """An HTTP client reaching the service over its socket (the MCP SDK's timeouts)."""
        transport = httpx2.AsyncHTTPTransport(uds=str(self.socket))
        return httpx2.AsyncClient(transport=transport, timeout=httpx2.Timeout(30.0, read=300.0))

    def log_tail(self, lines: int = 10) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.strip().splitlines()[-lines:])


def prepare_home(home: Path, code_root: Path, state: StateDocument) -> None:
    """A home whose active pointer names ``state`` (served by local code: no commit)."""
    state_dir = home / "workspace" / "state"
    state_dir.mkdir(parents=True, exist_ok=True)
    migrations = code_root / "state" / "migrations"
    if migrations.is_dir():
        shutil.copytree(migrations, state_dir / "migrations", dirs_exist_ok=True)
    for sub in ("data", "locks", "logs", "objects"):
        (home / sub).mkdir(exist_ok=True)
    manager = open_state_manager(CommonSettings(home=home))
    manager.activate(
        CANDIDATE_VERSION, state, actor="ci", reason="candidate under test", commit=None
    )


def _readiness(process: subprocess.Popen[str], seconds: float) -> str | None:
    """The URL of the ready line, or None if the process ended or time ran out."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            return None
        if line is None:
            return None
        if line.startswith('{"event": "ready"'):
            url: str = json.loads(line)["url"]
            return url
    return None


def _spawn(name: str, code_root: Path, home: Path, limits: TierLimits) -> CandidateService:
    log = home / "logs" / f"{name}.log"
    sock = home / "run" / f"{name}.sock"
    # Its own settings only: the home it serves from and where it listens.
    env = {"RATCHET_HOME": str(home), f"RATCHET_{name.upper()}_SOCKET": str(sock)}
    with log.open("w") as stderr:
        child = start(
            [sys.executable, "-m", f"services.{name}"],
            memory_mb=limits.memory_limit_mb,
            cwd=code_root,
            env=env,
            confinement=confine(
                code_root,
                writable=(home,),
                max_processes=limits.max_processes,
                disk_mb=limits.max_disk_mb,
            ),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    return CandidateService(name, "", child, log, sock)


@contextmanager
def candidate_home(code_root: Path) -> Iterator[Path]:
    """A fresh home for the candidate's services in its volume (the one place it may
    write), removed afterwards; the models they train go to the volume's store, which
    the candidate's agent worker shares, so a candidate trains each model once."""
    volume = confine(code_root).volume
    home = volume / "home" / f"fleet-{uuid.uuid4().hex[:8]}"
    shared = volume / "objects" / "artifacts"
    shared.mkdir(parents=True, exist_ok=True)
    (home / "objects").mkdir(parents=True)
    (home / "objects" / "artifacts").symlink_to(shared)
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def candidate_services(
    names: tuple[str, ...], code_root: Path, home: Path, limits: TierLimits
) -> Iterator[dict[str, CandidateService]]:
    """Run the candidate's ``services.<name>`` for each name, started side by side in
    ``home`` (prepared first) with the tier's ``limits``; yield them once all are ready."""
    services: dict[str, CandidateService] = {}
    seconds = limits.time_limit_s
    try:
        for name in names:
            services[name] = _spawn(name, code_root, home, limits)
        deadline = time.monotonic() + seconds
        for service in services.values():
            url = _readiness(service.process, max(deadline - time.monotonic(), 0.1))
            if url is None:
                service.child.stop(grace=0)
                why = service.child.violation() or service.log_tail(3) or "no output"
                raise CandidateFailed(
                    f"the candidate {service.name} did not start within {seconds:.0f} s "
                    f"(exit {service.process.returncode}): {why}"
                )
            service.url = url
        yield services
    finally:
        for service in services.values():
            service.child.stop(grace=10)
