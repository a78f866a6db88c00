"""Settings: defaults, environment, and the loopback/token rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.settings import SERVICE_SETTINGS
from ratchet.config import CommonSettings, is_loopback, load
from ratchet.errors import ConfigError
from services.architect.settings import ArchitectSettings
from services.runner.settings import RunnerSettings
from services.tuner.settings import TunerSettings
from services.versions.settings import VersionsSettings


def test_defaults_run_on_one_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("RATCHET_HOME", "RATCHET_TOKEN", "RATCHET_BACKEND"):
        monkeypatch.delenv(var, raising=False)
    ports = {name: load(cls).port for name, cls in SERVICE_SETTINGS.items()}
    assert ports == {"runner": 8001, "tuner": 8002, "architect": 8003, "versions": 8004}
    assert all(load(cls).host == "127.0.0.1" for cls in SERVICE_SETTINGS.values())
    common = load(CommonSettings)
    assert common.home_path == (Path.cwd() / ".ratchet").resolve()
    assert common.backend == "filesystem" and common.token is None
    assert common.workspace_path == common.home_path / "workspace"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RATCHET_HOME", str(tmp_path))
    monkeypatch.setenv("RATCHET_TUNER_PORT", "9102")
    monkeypatch.setenv("RATCHET_BACKEND", "s3")
    tuner = load(TunerSettings)
    assert (tuner.port, tuner.home_path, tuner.backend) == (9102, tmp_path.resolve(), "s3")
    assert load(RunnerSettings).port == 8001  # one service's variable is not another's


@pytest.mark.parametrize(
    "cls", [RunnerSettings, TunerSettings, ArchitectSettings, VersionsSettings]
)
def test_off_loopback_requires_a_token(cls: type[RunnerSettings]) -> None:
    with pytest.raises(ConfigError, match="RATCHET_TOKEN"):
        load(cls, host="0.0.0.0")
    assert load(cls, host="0.0.0.0", token="s3cret").host == "0.0.0.0"
    assert load(cls, host="::1").base_url.startswith("http://[::1]:")


def test_malformed_values_fail_fast_with_the_field_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATCHET_RUNNER_PORT", "eighty")
    with pytest.raises(ConfigError, match="RATCHET_RUNNER_PORT"):
        load(RunnerSettings)
    monkeypatch.setenv("RATCHET_RUNNER_PORT", "70000")
    with pytest.raises(ConfigError, match="65535"):
        load(RunnerSettings)


def test_every_problem_names_the_variable_a_user_sets(monkeypatch: pytest.MonkeyPatch) -> None:
    """A shared setting's error names its prefixed variable, not the Python field."""
    monkeypatch.setenv("RATCHET_BACKEND", "nfs")
    monkeypatch.setenv("RATCHET_AUDIT_RETENTION_DAYS", "-1")
    monkeypatch.setenv("RATCHET_VERSIONS_PORT", "x")
    with pytest.raises(ConfigError) as info:
        load(VersionsSettings)
    message = str(info.value)
    assert message.startswith("invalid VersionsSettings: ")
    for problem in (
        "RATCHET_BACKEND: Input should be 'filesystem' or 's3'",
        "RATCHET_AUDIT_RETENTION_DAYS: Input should be greater than or equal to 0",
        "RATCHET_VERSIONS_PORT: Input should be a valid integer",
    ):
        assert problem in message
    assert "audit_retention_days" not in message and "backend:" not in message


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
