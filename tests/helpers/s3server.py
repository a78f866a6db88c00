"""An S3-compatible server process on loopback (moto's server, see moto_atomic).

The S3 backends are tested against a real HTTP server speaking the S3
protocol, not against in-process patching of boto3.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from ratchet.ci.limits import tied_to_parent
from tests.helpers.leaks import session_env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class S3Server:
    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.helpers.moto_atomic", "127.0.0.1", str(self.port)],
            cwd=Path(__file__).resolve().parents[2],
            env=session_env(),  # outlives the test that may have started it: not its process
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=tied_to_parent(),  # a killed test worker takes it along
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto_server exited with {self.process.returncode}")
            try:
                httpx.get(self.endpoint, timeout=1.0)
                return
            except httpx.TransportError:
                time.sleep(0.05)  # polling for readiness, not waiting for time to pass
        raise TimeoutError(f"moto_server not ready on {self.endpoint}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def s3_environment() -> dict[str, str]:
    """Credentials moto accepts; real ones are never needed or read."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def install_s3_environment() -> None:
    os.environ.update(s3_environment())
