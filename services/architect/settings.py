"""The Architect's settings: bind address, coders, CI tiers, the Triggerer.

``RATCHET_ARCHITECT_*`` variables (see :mod:`ratchet.config` for what every
process shares); validated at start, so a bad value stops the process.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator

from ratchet.config import ServiceSettings, is_loopback


class ArchitectSettings(ServiceSettings):
    service_name: ClassVar[str] = "architect"
    host: str = Field(default="127.0.0.1", alias="RATCHET_ARCHITECT_HOST")
    port: int = Field(default=8003, ge=0, le=65535, alias="RATCHET_ARCHITECT_PORT")
    socket: Path | None = Field(
        default=None,
        alias="RATCHET_ARCHITECT_SOCKET",
        description="Listen on this Unix socket instead of host and port.",
    )
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
    job_lease_s: float = Field(
        default=60.0,
        gt=0,
        alias="RATCHET_ARCHITECT_JOB_LEASE_S",
        description="Seconds a running job's worker may go without a heartbeat (it beats "
        "every quarter of this) before any Architect queues the job again.",
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
    rollout_interval: float = Field(
        default=2.0,
        gt=0,
        alias="RATCHET_ARCHITECT_ROLLOUT_INTERVAL",
        description="Seconds between the rollout controller's looks at the live rollout "
        "(it runs in this process; see ratchet/rollouts).",
    )
    runner_metrics_url: str = Field(
        default="http://127.0.0.1:8001/metrics",
        alias="RATCHET_ARCHITECT_RUNNER_METRICS_URL",
        description="The Runner's windowed metrics the Triggerer polls.",
    )
    tuner_url: str = Field(
        default="http://127.0.0.1:8002/mcp",
        alias="RATCHET_ARCHITECT_TUNER_URL",
        description="The Tuner's MCP endpoint, asked to tune a minor or major release's params "
        "(`tune_release`) once it is served ('' : never ask).",
    )
    tuner_evaluations: int = Field(
        default=48,
        ge=1,
        le=2000,
        alias="RATCHET_ARCHITECT_TUNER_EVALUATIONS",
        description="Dev-split evaluations the Tuner's CMA-ES spends on a release's params.",
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
