"""The fleet as the demo and the end-to-end tests run it: ``ratchet up`` as a child process.

The same command a user types, so what is demonstrated (and tested) is the
supervisor, its readiness waits, restarts and wiring, not a stand-in. The
endpoints come from the fleet record ``ratchet up`` writes once every service
is ready; its output goes to ``logs/up.log`` in the home folder.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from fleet import record as fleet_record
from ratchet.ci.limits import tied_to_parent
from ratchet.errors import RatchetError


class FleetFailed(RatchetError):
    """``ratchet up`` exited or did not become ready in time."""


@dataclass
class Fleet:
    process: subprocess.Popen[bytes]
    home: Path
    urls: dict[str, str]
    log_path: Path

    def url(self, service: str) -> str:
        return self.urls[service]

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM ``ratchet up`` (it stops the services in order); its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                self.process.wait()
        return self.process.returncode


def up_command() -> list[str]:
    """``ratchet up`` with this interpreter (the console script may not be on PATH)."""
    return [sys.executable, "-m", "fleet.cli.main", "up"]


@contextlib.contextmanager
def running_fleet(
    home: Path, env: Mapping[str, str] | None = None, *, timeout: float = 240.0
) -> Iterator[Fleet]:
    """Run ``ratchet up`` on ``home`` until the block ends; yield once every service is ready."""
    home = home.expanduser().resolve()
    (home / "logs").mkdir(parents=True, exist_ok=True)
    log_path = home / "logs" / "up.log"
    child_env = {**os.environ, **(env or {}), "RATCHET_HOME": str(home)}
    with log_path.open("ab") as sink:
        process = subprocess.Popen(
            up_command(),
            env=child_env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            # If the demo dies, `ratchet up` is told to stop (SIGTERM: its services in order).
            preexec_fn=tied_to_parent(death_signal=signal.SIGTERM),
        )
    fleet = Fleet(process, home, {}, log_path)
    try:
        fleet.urls = _wait_for_record(fleet, timeout)
        yield fleet
    finally:
        fleet.stop()


def _wait_for_record(fleet: Fleet, timeout: float) -> dict[str, str]:
    """The URLs of the fleet record ``ratchet up`` writes once every service is ready."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = fleet_record.read(fleet.home)
        if record is not None and record.pid == fleet.process.pid:
            return dict(record.urls)
        if fleet.process.poll() is not None:
            tail = "\n".join(fleet.log_path.read_text(errors="replace").splitlines()[-20:])
            raise FleetFailed(f"`ratchet up` exited with {fleet.process.returncode}:\n{tail}")
        time.sleep(0.1)
    raise FleetFailed(f"the fleet was not ready in {timeout:.0f} s; see {fleet.log_path}")
