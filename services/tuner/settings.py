"""The Tuner's settings: bind address, auto-promotion, the optimizer-state key.

``RATCHET_TUNER_*`` and ``RATCHET_AUTO_PROMOTE_EVERY`` (see :mod:`ratchet.config` for what every
process shares); validated at start, so a bad value stops the process.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr

from ratchet.config import ServiceSettings


class TunerSettings(ServiceSettings):
    service_name: ClassVar[str] = "tuner"
    host: str = Field(default="127.0.0.1", alias="RATCHET_TUNER_HOST")
    port: int = Field(default=8002, ge=0, le=65535, alias="RATCHET_TUNER_PORT")
    socket: Path | None = Field(
        default=None,
        alias="RATCHET_TUNER_SOCKET",
        description="Listen on this Unix socket instead of host and port.",
    )
    auto_promote_every: int = Field(
        default=0,
        ge=0,
        description="Promote staging after this many new feedbacks (0: only on `promote`).",
    )
    state_key: SecretStr | None = Field(
        default=None,
        alias="RATCHET_TUNER_STATE_KEY",
        description="Signs optimizer state in the object store; generated under home if unset "
        "(set it when Tuner replicas on several machines share one store).",
    )
