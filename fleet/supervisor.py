"""The fleet on one machine: the services, started as child processes.

:class:`Supervisor` starts each service, waits for its readiness line (see
:mod:`ratchet.serving`), keeps its output in ``logs/{name}.log``, restarts a
crashed service with exponential backoff and stops everything on request.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from fleet.settings import SERVICE_SETTINGS
from ratchet.ci.limits import tied_to_parent

log = logging.getLogger(__name__)

SERVICE_ORDER = ("versions", "runner", "tuner", "architect")


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)


def wiring(name: str, url: str) -> dict[str, str]:
    """Settings the other services need once ``name`` is serving at ``url``.

    The Architect's Triggerer polls the Runner's metrics, and the Architect asks
    the Tuner to tune a release, at the port each actually bound
    (``RATCHET_RUNNER_PORT=0`` picks a free one).
    """
    if name == "runner":
        return {"RATCHET_ARCHITECT_RUNNER_METRICS_URL": f"{url}/metrics"}
    if name == "tuner":
        return {"RATCHET_ARCHITECT_TUNER_URL": f"{url}/mcp"}
    return {}


def built_services() -> list[ServiceSpec]:
    """Specs of the services whose package can be run (``python -m services.X``)."""
    specs = []
    for name in SERVICE_ORDER:
        module = f"services.{name}"
        if importlib.util.find_spec(f"{module}.__main__") is not None:
            specs.append(ServiceSpec(name, [sys.executable, "-m", module]))
    return specs


def missing_services() -> list[str]:
    built = {spec.name for spec in built_services()}
    return [name for name in SERVICE_SETTINGS if name not in built]


class ManagedProcess:
    """One child: its process, its log file, its readiness."""

    def __init__(self, spec: ServiceSpec, logs: Path, env: dict[str, str]) -> None:
        self.spec = spec
        self.log_path = logs / f"{spec.name}.log"
        self.env = {**env, **spec.env}
        self.process: subprocess.Popen[bytes] | None = None
        self.url: str | None = None
        self.restarts = 0
        self.started_at = 0.0
        self._ready = threading.Event()
        self._lock = threading.Lock()

    def start(self) -> None:
        started_at = time.monotonic()
        process = subprocess.Popen(
            self.spec.command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
            start_new_session=True,  # Ctrl-C reaches the supervisor, which stops children in order
            # A killed supervisor takes its services with it (the kernel's parent-death
            # signal; they are crash-safe). Started and stopped on the supervisor's thread.
            preexec_fn=tied_to_parent(),
        )
        # Readiness and the process change together: a watcher must never see the
        # old process (exited) with the new one's readiness still pending.
        with self._lock:
            self._ready.clear()
            self.url = None
            self.started_at = started_at
            self.process = process
        threading.Thread(target=self._pump, args=(process,), daemon=True).start()

    def _pump(self, process: subprocess.Popen[bytes]) -> None:
        """Copy the child's output into its log; spot the readiness line."""
        assert process.stdout is not None
        with self.log_path.open("ab") as sink:
            for line in iter(process.stdout.readline, b""):
                sink.write(line)
                sink.flush()
                if not self._ready.is_set() and line.startswith(b'{"event": "ready"'):
                    with contextlib.suppress(ValueError):
                        self.url = json.loads(line)["url"]
                        self._ready.set()

    def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._ready.wait(0.05):
                return True
            with self._lock:
                if self._ready.is_set():
                    return True
                if self.exited():
                    return False
        return False

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no output)"
        return "\n".join(text.splitlines()[-lines:])

    def exited(self) -> bool:
        return self.process is None or self.process.poll() is not None

    def stop(self, grace: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


class Supervisor:
    def __init__(
        self,
        specs: list[ServiceSpec],
        logs: Path,
        *,
        env: dict[str, str] | None = None,
        ready_timeout: float = 120.0,
        max_backoff: float = 30.0,
        stable_after: float = 30.0,
    ) -> None:
        logs.mkdir(parents=True, exist_ok=True)
        base_env = dict(os.environ if env is None else env)
        self.children = [ManagedProcess(spec, logs, base_env) for spec in specs]
        self.ready_timeout = ready_timeout
        self.max_backoff = max_backoff
        self.stable_after = stable_after
        self._stop = threading.Event()

    def start(self) -> dict[str, str]:
        """Start every service in order and wait for each; return name → URL."""
        for child in self.children:
            child.start()
            if not child.wait_ready(self.ready_timeout):
                self.stop()
                raise RuntimeError(f"{child.spec.name} did not become ready; see {child.log_path}")
            self._bound(child)
        return {c.spec.name: c.url or "" for c in self.children}

    def _bound(self, child: ManagedProcess) -> None:
        """Pin the port ``child`` bound, so a restart serves at the same URL; wire the others."""
        assert child.url is not None
        port = urlsplit(child.url).port
        if port is not None:
            child.env[f"RATCHET_{child.spec.name.upper()}_PORT"] = str(port)
        for key, value in wiring(child.spec.name, child.url).items():
            for other in self.children:
                other.env.setdefault(key, value)  # an explicit setting (e.g. a balancer) wins

    def run(self, poll: float = 0.5) -> None:
        """Watch the children until :meth:`request_stop`; restart crashed ones."""
        backoff = {c.spec.name: 1.0 for c in self.children}
        while not self._stop.wait(poll):
            for child in self.children:
                if not child.exited():
                    continue
                # A child that crashed soon after starting is crash-looping: back off.
                uptime = time.monotonic() - child.started_at
                delay = backoff[child.spec.name] if uptime < self.stable_after else 1.0
                backoff[child.spec.name] = min(delay * 2, self.max_backoff)
                code = child.process.returncode if child.process else None
                log.warning("%s exited with %s; restarting in %.0fs", child.spec.name, code, delay)
                if self._stop.wait(delay):
                    break
                child.start()
                child.restarts += 1  # counted once the new process is the child's
                child.wait_ready(self.ready_timeout)
        self.stop()

    def request_stop(self) -> None:
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        for child in reversed(self.children):
            child.stop()
