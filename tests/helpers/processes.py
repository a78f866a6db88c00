"""Starting a service as a real process and waiting for its readiness line."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ratchet.ci.limits import tied_to_parent
from tests.conftest import PROJECT_ROOT


@dataclass
class Service:
    process: subprocess.Popen[str]
    url: str
    output: list[str]


@contextmanager
def running(
    module: str, env: dict[str, str], *, timeout: float = 90.0, args: tuple[str, ...] = ()
) -> Iterator[Service]:
    """Run ``python -m module`` until the block ends; yield once it announced readiness."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=tied_to_parent(),  # a killed test worker takes it along
    )
    lines: queue.Queue[str | None] = queue.Queue()
    output: list[str] = []

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    try:
        url = None
        while url is None:
            line = lines.get(timeout=timeout)
            if line is None:
                raise RuntimeError(f"{module} exited before it was ready:\n{''.join(output)}")
            if line.startswith('{"event": "ready"'):
                url = json.loads(line)["url"]
        yield Service(process, url, output)
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def home_env(home: Path, **extra: str) -> dict[str, str]:
    return {"RATCHET_HOME": str(home), **extra}
