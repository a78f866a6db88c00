"""deploy/k8s: the example overlay renders, validates offline and keeps the policies.

No cluster runs here: ``kubectl kustomize`` renders the manifests as the user's
``kubectl apply -k`` would, ``kubernetes-validate --strict`` checks them against
the API schemas of Kubernetes ``KUBERNETES_VERSION``, and the policy checks of
:mod:`tests.deploy.k8s_policy` read the rendered objects. Each policy is also
fed a deliberately broken copy, to show that it can fail.
"""

from __future__ import annotations

import copy
import importlib.util
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from fleet.settings import SERVICE_SETTINGS
from ratchet.config import load
from ratchet.errors import ConfigError
from tests.conftest import PROJECT_ROOT
from tests.deploy.k8s_policy import POLICIES, SERVICES, Doc, pod_specs

OVERLAY = PROJECT_ROOT / "deploy" / "k8s" / "overlays" / "example"
# The schemas kubernetes-validate ships for 1.32 (kubectl here is a 1.32 client);
# it covers every field the manifests use (appArmorProfile is GA since 1.30).
KUBERNETES_VERSION = "1.32.0"


def kubectl() -> str:
    """kubectl's path; fails (never skips) when it is missing, saying what to install."""
    found = shutil.which("kubectl")
    if found is None:
        pytest.fail(
            "kubectl is not on PATH: install kubectl (https://kubernetes.io/docs/tasks/tools/) "
            "to render deploy/k8s with `kubectl kustomize`"
        )
    return found


@pytest.fixture(scope="module")
def rendered() -> list[Doc]:
    done = subprocess.run(
        [kubectl(), "kustomize", str(OVERLAY)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def named(docs: list[Doc], kind: str, name: str) -> Doc:
    (doc,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def validate(docs: list[Doc], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """kubernetes-validate's command line, strict, on ``docs`` as one YAML stream."""
    path = tmp_path / "rendered.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    command = [sys.executable, "-m", "kubernetes_validate", "--strict", "--quiet"]
    return subprocess.run(
        [*command, "-k", KUBERNETES_VERSION, str(path)], capture_output=True, text=True, timeout=60
    )


def test_without_kubectl_on_path_the_test_fails_saying_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no kubectl
    with pytest.raises(pytest.fail.Exception, match="install kubectl"):
        kubectl()


def test_the_example_overlay_renders_the_four_services(rendered: list[Doc]) -> None:
    for name in SERVICES:
        deployment = named(rendered, "Deployment", name)
        assert deployment["metadata"]["namespace"] == "ratchet"
        assert named(rendered, "Service", name)["metadata"]["namespace"] == "ratchet"
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["image"] == "registry.example.com/ratchet:0.1.0"
    assert named(rendered, "Deployment", "runner")["spec"]["replicas"] == 2
    claim = named(rendered, "PersistentVolumeClaim", "ratchet-home")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]  # replicas on several nodes


def test_the_rendered_manifests_validate_strictly_offline(
    rendered: list[Doc], tmp_path: Path
) -> None:
    done = validate(rendered, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_strict_validation_rejects_an_unknown_field(rendered: list[Doc], tmp_path: Path) -> None:
    broken = copy.deepcopy(named(rendered, "Deployment", "runner"))
    broken["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {"periodSeconds": 5}
    done = validate([broken], tmp_path)
    assert done.returncode != 0
    assert "livenesProbe" in done.stdout + done.stderr


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_the_rendered_manifests_keep_the_policy(rendered: list[Doc], policy: str) -> None:
    assert POLICIES[policy](rendered) == []


def _container(docs: list[Doc], name: str) -> Doc:
    container: Doc = named(docs, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]
    return container


def _no_liveness(docs: list[Doc]) -> None:
    del _container(docs, "runner")["livenessProbe"]


def _no_init_limits(docs: list[Doc]) -> None:
    init = named(docs, "Deployment", "tuner")["spec"]["template"]["spec"]["initContainers"][0]
    del init["resources"]["limits"]


def _sticky(docs: list[Doc]) -> None:
    named(docs, "Service", "runner")["spec"]["sessionAffinity"] = "ClientIP"


def _latest(docs: list[Doc]) -> None:
    _container(docs, "architect")["image"] = "registry.example.com/ratchet:latest"


def _untagged(docs: list[Doc]) -> None:
    _container(docs, "versions")["image"] = "registry.example.com:5000/ratchet"


def _root(docs: list[Doc]) -> None:
    named(docs, "Deployment", "tuner")["spec"]["template"]["spec"]["securityContext"].pop(
        "runAsNonRoot"
    )


def _escalates(docs: list[Doc]) -> None:
    _container(docs, "runner")["securityContext"]["allowPrivilegeEscalation"] = True


def _literal_token(docs: list[Doc]) -> None:
    env = _container(docs, "versions")["env"]
    (token,) = [item for item in env if item["name"] == "RATCHET_TOKEN"]
    token.pop("valueFrom")
    token["value"] = "0123456789abcdef"


def _no_hpa(docs: list[Doc]) -> None:
    docs.remove(named(docs, "HorizontalPodAutoscaler", "runner"))


BREAKAGES: dict[str, tuple[str, Callable[[list[Doc]], None], str]] = {
    "no liveness probe": ("probes", _no_liveness, "Deployment/runner container runner"),
    "init container without limits": ("resources", _no_init_limits, "wait-for-versions"),
    "ClientIP affinity": ("no_session_affinity", _sticky, "Service/runner"),
    "latest tag": ("pinned_images", _latest, "tag latest"),
    "no tag": ("pinned_images", _untagged, "tag missing"),
    "may run as root": ("non_root", _root, "Deployment/tuner container tuner: runAsNonRoot"),
    "privilege escalation": ("non_root", _escalates, "allowPrivilegeEscalation"),
    "token as a literal": ("token_from_secret", _literal_token, "versions: RATCHET_TOKEN"),
    "no autoscaler": ("runner_autoscales", _no_hpa, "Deployment/runner on cpu"),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_each_policy_reports_a_broken_document(rendered: list[Doc], breakage: str) -> None:
    policy, breaks, expected = BREAKAGES[breakage]
    docs = copy.deepcopy(rendered)
    breaks(docs)
    problems = POLICIES[policy](docs)
    assert any(expected in problem for problem in problems), problems


def test_each_service_runs_its_entry_point_on_its_settings_port(rendered: list[Doc]) -> None:
    for name in SERVICES:
        container = _container(rendered, name)
        assert container["command"] == ["python", "-m", f"services.{name}"]
        assert importlib.util.find_spec(f"services.{name}.__main__") is not None
        port = SERVICE_SETTINGS[name].model_fields["port"].default
        assert container["ports"] == [{"name": "http", "containerPort": port}]
        (service_port,) = named(rendered, "Service", name)["spec"]["ports"]
        assert (service_port["port"], service_port["targetPort"]) == (port, "http")


def test_the_settings_accept_the_configuration_only_with_the_token(
    rendered: list[Doc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ConfigMap binds every service to 0.0.0.0: its settings then insist on a token."""
    (config,) = [d for d in rendered if d["kind"] == "ConfigMap"]
    for key, value in config["data"].items():
        if key.startswith("RATCHET_"):
            monkeypatch.setenv(key, value)
    monkeypatch.delenv("RATCHET_TOKEN", raising=False)
    for name, cls in SERVICE_SETTINGS.items():
        with pytest.raises(ConfigError, match="RATCHET_TOKEN"):
            load(cls)
        monkeypatch.setenv("RATCHET_TOKEN", "from-the-secret")
        settings = load(cls)
        assert settings.host == "0.0.0.0" and str(settings.home) == "/data", name
        monkeypatch.delenv("RATCHET_TOKEN")


def test_the_pods_run_as_the_images_user(rendered: list[Doc]) -> None:
    (user,) = re.findall(r"^USER (\d+):(\d+)$", (PROJECT_ROOT / "Dockerfile").read_text(), re.M)
    for owner, pod in pod_specs(rendered):
        context = pod["securityContext"]
        assert (str(context["runAsUser"]), str(context["runAsGroup"])) == user, owner
        assert str(context["fsGroup"]) == user[1], owner  # the home volume is its own
