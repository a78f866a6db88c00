"""Configuration: one pydantic-settings class per process, env prefix ``RATCHET_``.

Settings every process shares (home folder, token, backends, telemetry) live in
:class:`CommonSettings`; each process adds its own bind address under
``RATCHET_<PROCESS>_HOST`` / ``RATCHET_<PROCESS>_PORT``. Validation happens at
start, so a process with an unsafe or malformed configuration never serves.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Literal, Self, TypeVar
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ratchet.errors import ConfigError


class Backend(StrEnum):
    """Where state documents and objects live."""

    FILESYSTEM = "filesystem"
    S3 = "s3"


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
    project_root: Path | None = Field(
        default=None, description="Checkout the workspace is cloned from (default: this source)."
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
    def data_path(self) -> Path:
        """SQLite databases and other per-machine files."""
        return self.home_path / "data"

    @property
    def locks_path(self) -> Path:
        return self.home_path / "locks"

    @property
    def logs_path(self) -> Path:
        return self.home_path / "logs"


class ServiceSettings(CommonSettings):
    """A process that listens: adds ``host``/``port`` and the loopback rule."""

    service_name: ClassVar[str] = "service"
    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)

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


class RunnerSettings(ServiceSettings):
    service_name: ClassVar[str] = "runner"
    host: str = Field(default="127.0.0.1", alias="RATCHET_RUNNER_HOST")
    port: int = Field(default=8001, ge=0, le=65535, alias="RATCHET_RUNNER_PORT")
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


class TunerSettings(ServiceSettings):
    service_name: ClassVar[str] = "tuner"
    host: str = Field(default="127.0.0.1", alias="RATCHET_TUNER_HOST")
    port: int = Field(default=8002, ge=0, le=65535, alias="RATCHET_TUNER_PORT")
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


class ArchitectSettings(ServiceSettings):
    service_name: ClassVar[str] = "architect"
    host: str = Field(default="127.0.0.1", alias="RATCHET_ARCHITECT_HOST")
    port: int = Field(default=8003, ge=0, le=65535, alias="RATCHET_ARCHITECT_PORT")
    coder: Literal["patch", "template", "llm", "command"] = Field(
        default="template",
        alias="RATCHET_ARCHITECT_CODER",
        description="Coder for feedback without a diff (a diff always goes to `patch`).",
    )
    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        alias="RATCHET_ARCHITECT_MAX_BODY_BYTES",
        description="Largest request body accepted (413 above it).",
    )
    max_attempts: int = Field(
        default=3,
        ge=1,
        alias="RATCHET_ARCHITECT_MAX_ATTEMPTS",
        description="Runs of one job before an interrupted job is failed for good.",
    )
    fast_tests: list[str] = Field(
        default=["tests/services/runner"],
        alias="RATCHET_ARCHITECT_FAST_TESTS",
        description="The candidate's pytest paths the fast tier runs (JSON list; [] for none).",
    )
    full_shards: int = Field(
        default=1,
        ge=1,
        le=64,
        alias="RATCHET_ARCHITECT_FULL_SHARDS",
        description="Concurrent MCP clients the full tier shards the held-out split over "
        "(their latency is the p95 judged: one client measures the Runner's own latency; "
        "more clients than idle cores measure queueing, e.g. 2 on a busy 2-core machine).",
    )
    heldout_sample: int = Field(
        default=0,
        ge=0,
        alias="RATCHET_ARCHITECT_HELDOUT_SAMPLE",
        description="Held-out examples the full tier routes (0: all; a spread subset otherwise).",
    )
    triggerer: bool = Field(
        default=True,
        alias="RATCHET_ARCHITECT_TRIGGERER",
        description="Run the Triggerer (SLO burn-rate alarms that wake the Architect).",
    )
    runner_metrics_url: str = Field(
        default="http://127.0.0.1:8001/metrics",
        alias="RATCHET_ARCHITECT_RUNNER_METRICS_URL",
        description="The Runner's windowed metrics the Triggerer polls.",
    )
    triggerer_interval: float = Field(
        default=30.0,
        gt=0,
        alias="RATCHET_ARCHITECT_TRIGGERER_INTERVAL",
        description="Seconds between the Triggerer's evaluations.",
    )
    triggerer_cooldown: float = Field(
        default=3600.0,
        ge=0,
        alias="RATCHET_ARCHITECT_TRIGGERER_COOLDOWN",
        description="Seconds after a wake-up before the Triggerer may wake the Architect again.",
    )
    triggerer_period_days: float | None = Field(
        default=None,
        gt=0,
        alias="RATCHET_ARCHITECT_TRIGGERER_PERIOD_DAYS",
        description="Overrides `slos.period_days` of ci/budgets.json for the Triggerer alone: "
        "the burn-rate windows scale with it (demos and tests compress hours into seconds).",
    )

    # The `llm` coder: any OpenAI-compatible chat-completions endpoint.
    llm_base_url: str = Field(
        default="",
        alias="RATCHET_ARCHITECT_LLM_BASE_URL",
        description="OpenAI-compatible API base, e.g. https://api.openai.com/v1 (for `llm`).",
    )
    llm_model: str = Field(
        default="", alias="RATCHET_ARCHITECT_LLM_MODEL", description="Model name sent as `model`."
    )
    llm_api_key: SecretStr | None = Field(
        default=None,
        alias="RATCHET_ARCHITECT_LLM_API_KEY",
        description="Sent as a bearer token; only over https or to loopback.",
    )
    llm_timeout: float = Field(
        default=120.0,
        gt=0,
        alias="RATCHET_ARCHITECT_LLM_TIMEOUT",
        description="Seconds to wait for one answer.",
    )
    llm_max_attempts: int = Field(
        default=3,
        ge=1,
        le=10,
        alias="RATCHET_ARCHITECT_LLM_MAX_ATTEMPTS",
        description="Questions per candidate: a malformed or non-applying edit is retried with "
        "the error until this many were asked, then the candidate is rejected.",
    )
    llm_max_tokens: int = Field(
        default=4096,
        ge=16,
        alias="RATCHET_ARCHITECT_LLM_MAX_TOKENS",
        description="Cap on one answer's tokens (`max_tokens`), which bounds its cost.",
    )
    llm_prompt_chars: int = Field(
        default=120_000,
        ge=1000,
        alias="RATCHET_ARCHITECT_LLM_PROMPT_CHARS",
        description="Budget of file and example text in the prompt; the rest is listed by name.",
    )
    llm_price_input_per_1k: float = Field(
        default=0.0,
        ge=0,
        alias="RATCHET_ARCHITECT_LLM_PRICE_INPUT_PER_1K",
        description="Price (USD) of 1,000 prompt tokens, for the cost caps.",
    )
    llm_price_output_per_1k: float = Field(
        default=0.0,
        ge=0,
        alias="RATCHET_ARCHITECT_LLM_PRICE_OUTPUT_PER_1K",
        description="Price (USD) of 1,000 completion tokens, for the cost caps.",
    )
    llm_job_cap_usd: float = Field(
        default=1.0,
        ge=0,
        alias="RATCHET_ARCHITECT_LLM_JOB_CAP_USD",
        description="Spend one job may reach (all its candidates and runs); then it stops.",
    )
    llm_daily_cap_usd: float = Field(
        default=10.0,
        ge=0,
        alias="RATCHET_ARCHITECT_LLM_DAILY_CAP_USD",
        description="Spend per UTC day across jobs (persisted: a restart keeps the day's spend).",
    )

    @model_validator(mode="after")
    def _llm_endpoint_usable(self) -> Self:
        if self.coder == "llm" and not (self.llm_base_url and self.llm_model):
            raise ValueError(
                "the llm coder needs RATCHET_ARCHITECT_LLM_BASE_URL and RATCHET_ARCHITECT_LLM_MODEL"
            )
        if self.llm_base_url:
            url = urlsplit(self.llm_base_url)
            if url.scheme not in ("http", "https") or not url.hostname:
                raise ValueError(
                    f"RATCHET_ARCHITECT_LLM_BASE_URL {self.llm_base_url!r} is not an http(s) URL"
                )
            if (
                self.llm_api_key is not None
                and url.scheme != "https"
                and not is_loopback(url.hostname)
            ):
                raise ValueError(
                    f"RATCHET_ARCHITECT_LLM_BASE_URL {self.llm_base_url} is plain http off "
                    "loopback: the API key would travel in clear; use https"
                )
        return self

    command: list[str] = Field(
        default=[],
        alias="RATCHET_ARCHITECT_COMMAND",
        description="The `command` coder's CLI as a JSON argv list, run in the candidate's "
        "worktree; an argument holding `{prompt}` gets the prompt, else it goes on stdin.",
    )
    command_timeout: float = Field(
        default=900.0,
        gt=0,
        alias="RATCHET_ARCHITECT_COMMAND_TIMEOUT",
        description="Seconds the coding CLI may run before its process group is killed.",
    )
    command_env: dict[str, str] = Field(
        default={},
        alias="RATCHET_ARCHITECT_COMMAND_ENV",
        description="Environment for the coding CLI (JSON object) on top of PATH, HOME, LANG: "
        "nothing else of the Architect's environment (its token) reaches it.",
    )

    @model_validator(mode="after")
    def _command_is_set(self) -> Self:
        if self.coder == "command" and not self.command:
            raise ValueError("coder `command` needs RATCHET_ARCHITECT_COMMAND (a JSON argv list)")
        return self


class VersionsSettings(ServiceSettings):
    service_name: ClassVar[str] = "versions"
    host: str = Field(default="127.0.0.1", alias="RATCHET_VERSIONS_HOST")
    port: int = Field(default=8004, ge=0, le=65535, alias="RATCHET_VERSIONS_PORT")
    evals_refresh_interval: float = Field(
        default=5.0,
        gt=0,
        alias="RATCHET_VERSIONS_EVALS_REFRESH_INTERVAL",
        description="Seconds before the KPI chart looks again for eval summaries written "
        "after their release (new tags are seen at once).",
    )


S = TypeVar("S", bound=CommonSettings)

SERVICE_SETTINGS: dict[str, type[ServiceSettings]] = {
    cls.service_name: cls
    for cls in (RunnerSettings, TunerSettings, ArchitectSettings, VersionsSettings)
}


def load(cls: type[S], **overrides: Any) -> S:
    """Build settings from the environment, turning validation errors into ConfigError."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid {cls.__name__}: {problems}") from None
