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


class Starting:
    """A ``python -m module`` process whose output is read until it announces readiness."""

    def __init__(self, module: str, env: dict[str, str], args: tuple[str, ...] = ()) -> None:
        self.module = module
        # Started by the calling thread: the child dies with that thread (tied_to_parent).
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=PROJECT_ROOT,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=tied_to_parent(),  # a killed test worker takes it along
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def ready(self, timeout: float) -> Service:
        """The service once its readiness line came (RuntimeError if it exited first)."""
        while True:
            line = self.lines.get(timeout=timeout)
            if line is None:
                raise RuntimeError(
                    f"{self.module} exited before it was ready:\n{''.join(self.output)}"
                )
            if line.startswith('{"event": "ready"'):
                return Service(self.process, json.loads(line)["url"], self.output)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def running(
    module: str, env: dict[str, str], *, timeout: float = 90.0, args: tuple[str, ...] = ()
) -> Iterator[Service]:
    """Run ``python -m module`` until the block ends; yield once it announced readiness."""
    starting = Starting(module, env, args)
    try:
        yield starting.ready(timeout)
    finally:
        starting.stop()


@contextmanager
def running_all(
    env: dict[str, str], *modules: str, timeout: float = 90.0
) -> Iterator[list[Service]]:
    """``running`` for several modules at once: all start before any is waited for, so
    their start-ups overlap; all are stopped when the block ends."""
    starting: list[Starting] = []
    try:
        for module in modules:
            starting.append(Starting(module, env))
        yield [one.ready(timeout) for one in starting]
    finally:
        for one in starting:
            one.stop()


def home_env(home: Path, **extra: str) -> dict[str, str]:
    return {"RATCHET_HOME": str(home), **extra}
