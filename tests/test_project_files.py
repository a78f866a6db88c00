"""Project files other tools read: compose, Dockerfile, budgets, README, CI entry."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import tomllib
from typing import Any

import yaml
from typer.testing import CliRunner

from ratchet.cli.main import app
from ratchet.config import SERVICE_SETTINGS
from services.architect.triggerer.slo import WORKBOOK_RULES
from tests.conftest import PROJECT_ROOT

SERVICES = {"runner": 8001, "tuner": 8002, "architect": 8003, "versions": 8004}


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    return data


def test_compose_runs_the_four_services_with_healthchecks() -> None:
    services = compose()["services"]
    for name, port in SERVICES.items():
        service = services[name]
        assert service["command"] == ["python", "-m", f"services.{name}"]
        assert importlib.util.find_spec(f"services.{name}.__main__") is not None
        published = port if name != "runner" else f"{port}-8010"  # replicas: a port range
        assert service["ports"] == [f"127.0.0.1:{published}:{port}"]  # on loopback only
        probe = " ".join(service["healthcheck"]["test"])
        assert "/healthz" in probe and probe.endswith(str(port))
        assert service["environment"]["RATCHET_HOME"] == "/data"
        assert "ratchet-home:/data" in service["volumes"]


def test_compose_orders_start_up_on_health() -> None:
    services = compose()["services"]
    assert services["tuner"]["depends_on"]["runner"]["condition"] == "service_healthy"
    assert services["architect"]["depends_on"]["versions"]["condition"] == "service_healthy"
    assert services["runner"]["depends_on"]["init"]["condition"] == (
        "service_completed_successfully"
    )


def test_compose_refuses_to_start_without_a_token() -> None:
    env = compose()["services"]["runner"]["environment"]
    assert env["RATCHET_RUNNER_HOST"] == "0.0.0.0"
    assert re.fullmatch(r"\$\{RATCHET_TOKEN:\?.+\}", env["RATCHET_TOKEN"])


def test_compose_profiles_for_s3_and_otel() -> None:
    services = compose()["services"]
    assert services["s3"]["profiles"] == services["s3-bucket"]["profiles"] == ["s3"]
    assert "/moto-api/" in " ".join(services["s3"]["healthcheck"]["test"])
    assert services["s3-bucket"]["depends_on"]["s3"]["condition"] == "service_healthy"
    init_needs = services["init"]["depends_on"]["s3-bucket"]
    assert init_needs == {"condition": "service_completed_successfully", "required": False}
    collector = services["otel-collector"]
    assert collector["profiles"] == ["otel"]
    config_file, mounted = collector["volumes"][0].split(":")[:2]
    assert collector["command"] == [f"--config={mounted}"]
    config = yaml.safe_load((PROJECT_ROOT / config_file).read_text())
    assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"] == "0.0.0.0:4318"
    assert set(config["service"]["pipelines"]) == {"traces", "metrics", "logs"}


def test_compose_environment_for_s3_otlp_and_the_triggerer() -> None:
    env = compose()["services"]["architect"]["environment"]
    for key in ("RATCHET_BACKEND", "RATCHET_S3_ENDPOINT_URL", "RATCHET_OTLP_ENDPOINT"):
        assert key in env
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(env)
    assert env["RATCHET_ARCHITECT_RUNNER_METRICS_URL"] == "http://runner:8001/metrics"
    known = set()  # every RATCHET_ variable is some process's setting (no typo passes)
    for cls in SERVICE_SETTINGS.values():
        fields = cls.model_fields
        known |= {f.alias for f in fields.values() if f.alias}
        known |= {f"RATCHET_{name.upper()}" for name in fields}
    assert {k for k in env if k.startswith("RATCHET_")} <= known


def test_dockerfile_command_and_compose_commands_exist() -> None:
    text = (PROJECT_ROOT / "Dockerfile").read_text()
    (cmd,) = re.findall(r"^CMD (\[.*\])$", text, flags=re.M)
    program, *_ = json.loads(cmd)
    scripts = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert program in scripts
    commands = [s["command"] for s in compose()["services"].values() if "command" in s]
    for command in commands:
        if command[:2] == ["python", "-m"]:
            assert importlib.util.find_spec(command[2]) is not None, command
        elif command[0] == "ratchet":
            assert CliRunner().invoke(app, [*command[1:], "--help"]).exit_code == 0, command


def test_dockerfile_installs_from_the_lock_file() -> None:
    text = (PROJECT_ROOT / "Dockerfile").read_text()
    assert text.startswith("# ") and "\nFROM python:3.11" in text
    assert "COPY requirements.lock" in text and "-r requirements.lock" in text
    assert text.index("requirements.lock") < text.index("COPY . .")  # dependency layer first


def test_the_image_carries_the_embeddings_extra_with_the_makefiles_torch() -> None:
    """A release with the MiniLM or ensemble arm must run in the image as it runs here."""
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    (pinned,) = re.findall(r"^TORCH_VERSION = (\S+)$", makefile, flags=re.M)
    assert f"ARG TORCH_VERSION={pinned}\n" in dockerfile
    assert "download.pytorch.org/whl/cpu" in dockerfile  # not PyPI's CUDA build
    assert "-e '.[embeddings]'" in dockerfile and "-e '.[embeddings]'" in makefile


def test_budgets_are_well_formed() -> None:
    budgets = json.loads((PROJECT_ROOT / "ci" / "budgets.json").read_text())
    assert set(budgets["tiers"]) == {"micro", "fast", "full"}
    assert all(tier["time_limit_s"] > 0 for tier in budgets["tiers"].values())
    assert 0 < budgets["budgets"]["min_heldout_accuracy"] <= 1
    documented = (PROJECT_ROOT / "ci" / "README.md").read_text()
    for field in budgets["budgets"]:
        assert f"budgets.{field}" in documented
    for field in budgets["exploration"]:
        assert f"exploration.{field}" in documented


def test_the_committed_state_is_what_its_generator_writes() -> None:
    """v0.1.0's state is the default agent's (`python -m services.runner.agent.state`)."""
    done = subprocess.run(
        [sys.executable, "-m", "services.runner.agent.state"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    committed = (PROJECT_ROOT / "state" / "active.state.json").read_text()
    assert json.loads(done.stdout) == json.loads(committed)


def test_readme_quick_start_matches_the_makefile_and_ci() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("##", 1)[0]
    commands = re.findall(r"^make (\w+)$", quick, flags=re.M)
    assert commands == ["up", "test"]
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert all(re.search(rf"^{c}:", makefile, flags=re.M) for c in commands)
    assert "make test" in (PROJECT_ROOT / ".ci" / "run").read_text()


def test_bug_every_slo_can_page_routing_accuracy_at_0_8_never_could() -> None:
    """A burn rate is at most 1 / (1 - objective): at 0.8 (5x) no alert (6x, 14.4x) could fire."""
    slos = json.loads((PROJECT_ROOT / "ci" / "budgets.json").read_text())["slos"]
    factors = [factor for *_, factor in WORKBOOK_RULES]
    for name, slo in slos.items():
        if isinstance(slo, dict):
            assert 1 / (1 - slo["objective"]) >= max(factors), name
