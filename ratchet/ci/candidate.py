"""A candidate's Runner or Tuner as a real process on an ephemeral port.

The full tier judges a candidate the way clients will meet it: the service
runs ``python -m services.<name>`` from the candidate's code root (its own
code, with the tier's memory limit), in a throwaway home whose active
pointer names the candidate's state with no commit, so the service loads the
code on its ``PYTHONPATH``. Readiness is the service's ``{"event": "ready"}``
line, never a sleep; the process is always stopped when the block ends, and
with it whatever it started; it also dies with the process running the tier,
by SIGKILL too (:mod:`ratchet.ci.children`).
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ratchet.ci.children import Child, start
from ratchet.ci.limits import candidate_env
from ratchet.config import CommonSettings
from ratchet.errors import RatchetError
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

    @property
    def process(self) -> subprocess.Popen[str]:
        return self.child.process

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


def _spawn(name: str, code_root: Path, home: Path, memory_mb: int) -> CandidateService:
    log = home / "logs" / f"{name}.log"
    upper = name.upper()
    env = candidate_env(
        code_root,
        RATCHET_HOME=str(home),
        **{f"RATCHET_{upper}_PORT": "0", f"RATCHET_{upper}_HOST": "127.0.0.1"},
    )
    with log.open("w") as stderr:
        child = start(
            [sys.executable, "-m", f"services.{name}"],
            memory_mb=memory_mb,
            cwd=code_root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    return CandidateService(name, "", child, log)


@contextmanager
def candidate_services(
    names: tuple[str, ...], code_root: Path, home: Path, *, seconds: float, memory_mb: int
) -> Iterator[dict[str, CandidateService]]:
    """Run the candidate's ``services.<name>`` for each name, started side by side on
    port 0 in ``home`` (prepared first); yield them once all are ready."""
    services: dict[str, CandidateService] = {}
    try:
        for name in names:
            services[name] = _spawn(name, code_root, home, memory_mb)
        deadline = time.monotonic() + seconds
        for service in services.values():
            url = _readiness(service.process, max(deadline - time.monotonic(), 0.1))
            if url is None:
                service.child.stop(grace=0)
                raise CandidateFailed(
                    f"the candidate {service.name} did not start within {seconds:.0f} s "
                    f"(exit {service.process.returncode}): {service.log_tail(3) or 'no output'}"
                )
            service.url = url
        yield services
    finally:
        for service in services.values():
            service.child.stop(grace=10)
