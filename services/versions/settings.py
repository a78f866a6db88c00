"""The Versions API's settings: bind address, the eval summaries' refresh.

``RATCHET_VERSIONS_*`` variables (see :mod:`ratchet.config` for what every
process shares); validated at start, so a bad value stops the process.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from ratchet.config import ServiceSettings


class VersionsSettings(ServiceSettings):
    service_name: ClassVar[str] = "versions"
    host: str = Field(default="127.0.0.1", alias="RATCHET_VERSIONS_HOST")
    port: int = Field(default=8004, ge=0, le=65535, alias="RATCHET_VERSIONS_PORT")
    socket: Path | None = Field(
        default=None,
        alias="RATCHET_VERSIONS_SOCKET",
        description="Listen on this Unix socket instead of host and port.",
    )
    evals_refresh_interval: float = Field(
        default=5.0,
        gt=0,
        alias="RATCHET_VERSIONS_EVALS_REFRESH_INTERVAL",
        description="Seconds before the KPI chart looks again for eval summaries written "
        "after their release (new tags are seen at once).",
    )
