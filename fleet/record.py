"""Where a running ``ratchet up`` says it is: ``{home}/run/fleet.json``.

Written once the services are ready, removed when the fleet stops. ``ratchet
status`` and ``ratchet down`` read it; a record whose process is gone (a
kill -9 of the supervisor) is stale, reported as such and replaced by the
next ``up``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ratchet.atomic import atomic_write_bytes


@dataclass(frozen=True)
class FleetRecord:
    pid: int
    urls: dict[str, str]
    started_at: float

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # someone else's process: it exists
            return True
        # An exited process its parent has not reaped yet still answers signals.
        try:
            state = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        return state != "Z"


def record_path(home: Path) -> Path:
    return home / "run" / "fleet.json"


def write(home: Path, urls: dict[str, str]) -> FleetRecord:
    record = FleetRecord(os.getpid(), dict(urls), time.time())
    path = record_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, json.dumps(asdict(record), indent=2).encode())
    return record


def read(home: Path) -> FleetRecord | None:
    try:
        body = json.loads(record_path(home).read_text())
        return FleetRecord(int(body["pid"]), dict(body["urls"]), float(body["started_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove(home: Path, pid: int) -> None:
    """Remove the record if it is still ``pid``'s (never another fleet's)."""
    current = read(home)
    if current is not None and current.pid == pid:
        record_path(home).unlink(missing_ok=True)


def wait_gone(record: FleetRecord, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while record.alive():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True
