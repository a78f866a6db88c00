"""Configuration every process shares: pydantic-settings, env prefix ``RATCHET_``.

Settings every process reads the same way (home folder, token, backends,
telemetry) live in :class:`CommonSettings`; :class:`ServiceSettings` adds a
bind address and the loopback rule. Each service's own class lives beside it
(``services/<name>/settings.py``) and adds ``RATCHET_<NAME>_HOST`` /
``RATCHET_<NAME>_PORT`` and its own knobs. Validation happens at start, so a
process with an unsafe or malformed configuration never serves.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Literal, Self, TypeVar

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ratchet.db.url import parse_database_url
from ratchet.errors import ConfigError


class Backend(StrEnum):
    """Where state documents and objects live."""

    FILESYSTEM = "filesystem"
    S3 = "s3"


class RolloutMode(StrEnum):
    """How a release reaches traffic (:mod:`ratchet.rollouts`)."""

    PROGRESSIVE = "progressive"  # a canary on a share of new conversations first
    IMMEDIATE = "immediate"  # the pointer moves at once


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``; False for anything else."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class CommonSettings(BaseSettings):
    """What all four processes read the same way."""

    model_config = SettingsConfigDict(
        env_prefix="RATCHET_", extra="ignore", validate_by_name=True, validate_by_alias=True
    )

    home: Path = Field(default=Path(".ratchet"), description="Workspace, objects, databases.")
    token: SecretStr | None = Field(
        default=None, description="Bearer token checked by every process when set."
    )
    backend: Backend = Field(default=Backend.FILESYSTEM, description="State and object store.")
    s3_bucket: str = "ratchet"
    s3_prefix: str = ""
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    otlp_endpoint: str | None = Field(
        default=None, description="OTLP/HTTP base URL; unset means JSON lines in the object store."
    )
    telemetry_retention_days: int = Field(
        default=7,
        ge=0,
        description="Days the JSON lines telemetry is kept in the object store (0: for ever).",
    )
    audit_retention_days: int = Field(
        default=30,
        ge=0,
        description="Days the audit log keeps a served call (0: for ever); the Runner "
        "deletes older ones. /metrics windows reach back 30 days at most.",
    )
    project_root: Path | None = Field(
        default=None, description="Checkout the workspace is made from (default: this source)."
    )
    task: str | None = Field(
        default=None,
        description="Task a new home serves: a built-in task's name or a task folder "
        "(default: the project's, in tasks/active.json). A home serves one task for its life.",
    )

    database_url: SecretStr | None = Field(
        default=None,
        description="Where sessions, the audit log, feedback, jobs and ledgers live: unset "
        "keeps SQLite files in the home folder; postgresql://USER:PASSWORD@HOST/DB shares one "
        "Postgres database between processes on several machines.",
    )
    rollout: RolloutMode = Field(
        default=RolloutMode.PROGRESSIVE,
        description="How a release reaches traffic: as a canary that live feedback promotes "
        "or aborts (progressive), or at once (immediate).",
    )
    sandbox: Literal["auto", "bwrap", "none"] = Field(
        default="auto",
        description="What candidate processes run under: bubblewrap when it works (auto), "
        "bubblewrap or fail (bwrap), or unconfined (none; the Architect then refuses "
        "autonomous coders). Read by the harness in every process (ratchet/sandbox).",
    )

    @property
    def home_path(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def workspace_path(self) -> Path:
        return self.home_path / "workspace"

    @property
    def objects_path(self) -> Path:
        return self.home_path / "objects"

    @property
    def database(self) -> str | None:
        """``RATCHET_DATABASE_URL``'s value (None: the embedded SQLite files)."""
        return None if self.database_url is None else self.database_url.get_secret_value()

    @property
    def data_path(self) -> Path:
        """SQLite databases and other per-machine files."""
        return self.home_path / "data"

    @property
    def locks_path(self) -> Path:
        return self.home_path / "locks"

    @property
    def heldout_path(self) -> Path:
        """Each task's held-out split, out of every tree a candidate runs from."""
        return self.home_path / "heldout"

    @property
    def logs_path(self) -> Path:
        return self.home_path / "logs"


class ServiceSettings(CommonSettings):
    """A process that listens: adds ``host``/``port`` and the loopback rule."""

    service_name: ClassVar[str] = "service"
    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)
    # Listen on this Unix socket instead of host and port (a proxy on the same
    # machine; the full tier reaches a sandboxed candidate this way). Each service
    # names it RATCHET_<SERVICE>_SOCKET, as it names its port.
    socket: Path | None = None

    @model_validator(mode="after")
    def _token_required_off_loopback(self) -> Self:
        if not is_loopback(self.host) and self.token is None:
            raise ValueError(
                f"{self.service_name} would bind to {self.host}, which is not loopback; "
                "set RATCHET_TOKEN so every request must carry a bearer token"
            )
        return self

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


S = TypeVar("S", bound=CommonSettings)


def _variable(cls: type[BaseSettings], loc: tuple[int | str, ...]) -> str:
    """The environment variable a validation error is about, as a user sets it: a
    field's alias (``RATCHET_RUNNER_PORT``) or the prefixed name
    (``RATCHET_TELEMETRY_RETENTION_DAYS``); a nested location keeps its path."""
    if not loc:
        return "settings"
    head, rest = str(loc[0]), "".join(f"[{part}]" for part in loc[1:])
    field = cls.model_fields.get(head)
    if field is not None:
        head = field.alias or f"{cls.model_config.get('env_prefix', '')}{head}".upper()
    return head + rest


def load(cls: type[S], **overrides: Any) -> S:
    """Build settings from the environment, turning validation errors into ConfigError."""
    try:
        settings = cls(**overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{_variable(cls, err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"invalid {cls.__name__}: {problems}") from None
    if isinstance(settings, CommonSettings):
        parse_database_url(settings.database)  # a wrong URL fails every process at start
    return settings
