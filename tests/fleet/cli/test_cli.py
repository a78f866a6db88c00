"""The ``ratchet`` command line, in-process (Typer's runner) and as a real command."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

import ratchet
from fleet.cli.main import app
from ratchet.sandbox import sandbox_support
from ratchet.sandbox.support import _probed
from tests.conftest import PROJECT_ROOT, git

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, source_repo: Path) -> dict[str, str]:
    ports = {f"RATCHET_{s}_PORT": "0" for s in ("RUNNER", "TUNER", "ARCHITECT", "VERSIONS")}
    return {
        "RATCHET_HOME": str(tmp_path / "home"),
        "RATCHET_PROJECT_ROOT": str(source_repo),
        **ports,
    }


def doctor(env: dict[str, str]) -> tuple[int, dict[str, dict[str, object]]]:
    result = runner.invoke(app, ["doctor", "--json"], env=env)
    report = json.loads(result.stdout)
    return result.exit_code, {c["name"]: c for c in report["checks"]}


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"ratchet {ratchet.__version__}"


def test_doctor_passes_on_a_fresh_home(env: dict[str, str]) -> None:
    code, checks = doctor(env)
    assert code == 0, checks
    assert set(checks) >= {
        "python",
        "git",
        "settings",
        "workspace",
        "state",
        "object store",
        "ports",
    }


def test_doctor_passes_after_init(env: dict[str, str]) -> None:
    assert runner.invoke(app, ["init"], env=env).exit_code == 0
    code, checks = doctor(env)
    assert code == 0, checks
    assert "v0.1.0" in str(checks["state"]["detail"])


def test_doctor_fails_with_a_fix_hint_when_the_workspace_is_not_git(env: dict[str, str]) -> None:
    assert runner.invoke(app, ["init"], env=env).exit_code == 0
    shutil.rmtree(Path(env["RATCHET_HOME"]) / "workspace" / ".git")
    code, checks = doctor(env)
    assert code == 1
    assert checks["workspace"]["ok"] is False
    assert "not a git repository" in str(checks["workspace"]["detail"])
    assert "ratchet init" in str(checks["workspace"]["fix"])
    assert checks["python"]["ok"] is True  # the other checks still ran


def test_doctor_names_a_port_held_by_something_else(env: dict[str, str]) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        code, checks = doctor({**env, "RATCHET_RUNNER_PORT": str(port)})
    assert code == 1
    assert f"runner {port}" in str(checks["ports"]["detail"])
    assert "RATCHET_<SERVICE>_PORT" in str(checks["ports"]["fix"])


@pytest.fixture
def fresh_probe() -> Iterator[None]:
    """The sandbox probe runs again here, and again for the tests after this one."""
    _probed.cache_clear()
    yield
    _probed.cache_clear()


def test_doctor_reports_the_sandbox(env: dict[str, str], fresh_probe: None) -> None:
    _, checks = doctor(env)
    support = sandbox_support()
    sandbox = checks["sandbox"]
    assert sandbox["ok"] is support.available
    if support.available:  # this machine's bubblewrap: its version and the process limit
        assert f"bwrap {support.version}" in str(sandbox["detail"])
        assert f"held by {support.process_limit}" in str(sandbox["detail"])


def test_doctor_says_what_a_machine_without_bubblewrap_lacks(
    env: dict[str, str], fresh_probe: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = shutil.which
    monkeypatch.setattr(
        "ratchet.sandbox.support.shutil.which",
        lambda name, *a, **k: None if name == "bwrap" else found(name, *a, **k),
    )
    code, checks = doctor(env)
    sandbox = checks["sandbox"]
    assert code == 1 and sandbox["ok"] is False
    assert "bubblewrap is not installed" in str(sandbox["detail"])
    assert "Architect refuses autonomous coders" in str(sandbox["detail"])
    assert "make sandbox" in str(sandbox["fix"]) and "apt-get install bubblewrap" in str(
        sandbox["fix"]
    )
    assert checks["python"]["ok"] is True  # the other checks still ran


def test_doctor_says_what_a_container_refusing_namespaces_needs(
    env: dict[str, str], fresh_probe: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = "bubblewrap cannot make namespaces here: No permissions to create new namespace"
    monkeypatch.setattr("ratchet.sandbox.support._trial", lambda bwrap: refused)
    code, checks = doctor(env)
    sandbox = checks["sandbox"]
    assert code == 1 and refused in str(sandbox["detail"])
    assert "seccomp=unconfined" in str(sandbox["fix"]) and "user namespaces" in str(sandbox["fix"])


def test_doctor_reports_a_sandbox_turned_off(env: dict[str, str], fresh_probe: None) -> None:
    code, checks = doctor({**env, "RATCHET_SANDBOX": "none"})
    sandbox = checks["sandbox"]
    assert code == 1 and sandbox["ok"] is False
    assert "turned off" in str(sandbox["detail"]) and "unconfined" in str(sandbox["detail"])
    assert "RATCHET_SANDBOX" in str(sandbox["fix"])


def test_a_sandbox_mode_it_does_not_know_is_refused_with_the_choices(
    env: dict[str, str],
) -> None:
    result = runner.invoke(app, ["doctor", "--json"], env={**env, "RATCHET_SANDBOX": "chroot"})
    assert result.exit_code == 2
    said = " ".join(result.stderr.split())
    assert "RATCHET_SANDBOX: Input should be 'auto', 'bwrap' or 'none'" in said


def test_doctor_reports_bad_settings(env: dict[str, str]) -> None:
    code, checks = doctor({**env, "RATCHET_TUNER_HOST": "0.0.0.0"})
    assert code == 1 and "RATCHET_TOKEN" in str(checks["settings"]["detail"])


def test_pin_rollback_and_pointer_history(env: dict[str, str]) -> None:
    assert runner.invoke(app, ["init"], env=env).exit_code == 0
    refused = runner.invoke(app, ["rollback"], env=env)
    assert refused.exit_code == 1 and "nothing to roll back" in refused.stderr
    pinned = runner.invoke(app, ["pin", "--reason", "freeze for audit"], env=env)
    assert pinned.exit_code == 0 and "(pinned)" in pinned.stdout
    assert runner.invoke(app, ["unpin"], env=env).exit_code == 0
    history = runner.invoke(app, ["pointer"], env=env)
    assert history.exit_code == 0
    assert all(word in history.stdout for word in ("activate", "pin", "unpin", "freeze"))


def test_commands_on_an_uninitialised_home_say_what_to_do(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["pointer"], env=env)
    assert result.exit_code == 1 and "ratchet init" in result.stderr


@pytest.mark.slow
def test_up_serves_status_reports_down_stops(env: dict[str, str]) -> None:
    # The installed console script, as a user runs it.
    # The workspace must hold the Runner's code: clone this project, not the tiny source.
    env = {**env, "RATCHET_PROJECT_ROOT": str(PROJECT_ROOT)}
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("ratchet")), "up"],
        env={**env, "PATH": "/usr/bin:/bin", "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "Ctrl-C stops the fleet" in line:
            break
    output = "".join(lines)
    match = re.search(r"runner\s+(http://127\.0\.0\.1:\d+)", output)
    assert match, output
    assert httpx.get(f"{match.group(1)}/healthz").json()["version"] == "v0.1.0"
    status = runner.invoke(app, ["status", "--json"], env=env)
    assert status.exit_code == 0, (status.output, status.exception)
    report = json.loads(status.output)
    assert report["running"] and report["pid"] == process.pid
    assert report["services"]["runner"] == {"url": match.group(1), "healthy": True}
    assert report["active_version"] == "v0.1.0"
    again = runner.invoke(app, ["up"], env=env)  # one fleet per home
    assert again.exit_code == 1 and "already running" in again.output
    down = runner.invoke(app, ["down"], env=env)  # SIGTERM, then wait for the stop
    assert down.exit_code == 0 and f"stopped the fleet (pid {process.pid})" in down.output
    rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0, rest
    assert "stopped" in rest
    after = runner.invoke(app, ["status"], env=env)
    assert after.exit_code == 1 and "not running" in after.output
    assert runner.invoke(app, ["down"], env=env).output.strip() == "not running"
    workspace = Path(env["RATCHET_HOME"]) / "workspace"
    assert git(workspace, "tag", "-l") == "v0.1.0"
    assert (Path(env["RATCHET_HOME"]) / "logs" / "runner.log").exists()


def test_doctor_does_not_create_staging(env: dict[str, str]) -> None:
    assert runner.invoke(app, ["init"], env=env).exit_code == 0
    staging = Path(env["RATCHET_HOME"]) / "workspace" / "state" / "staging.state.json"
    staging.unlink(missing_ok=True)
    code, checks = doctor(env)
    assert code == 0 and "no staging yet" in str(checks["state"]["detail"])
    assert not staging.exists()
