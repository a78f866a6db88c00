"""The Runner's settings: bind address, the longest message, the pointer poll.

``RATCHET_RUNNER_*`` variables (see :mod:`ratchet.config` for what every
process shares); validated at start, so a bad value stops the process.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from ratchet.config import ServiceSettings


class RunnerSettings(ServiceSettings):
    service_name: ClassVar[str] = "runner"
    host: str = Field(default="127.0.0.1", alias="RATCHET_RUNNER_HOST")
    port: int = Field(default=8001, ge=0, le=65535, alias="RATCHET_RUNNER_PORT")
    socket: Path | None = Field(
        default=None,
        alias="RATCHET_RUNNER_SOCKET",
        description="Listen on this Unix socket instead of host and port.",
    )
    max_text_chars: int = Field(
        default=2000,
        ge=1,
        alias="RATCHET_RUNNER_MAX_TEXT_CHARS",
        description="Longest message `route` accepts.",
    )
    poll_interval: float = Field(
        default=0.1,
        gt=0,
        alias="RATCHET_RUNNER_POLL_INTERVAL",
        description="Seconds between checks for a moved active pointer.",
    )
