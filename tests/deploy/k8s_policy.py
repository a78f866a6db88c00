"""Policy checks on rendered Kubernetes manifests (``deploy/k8s``), one function a rule.

Each check takes the rendered documents and returns the problems it found, one
line each naming the object, so a test can assert both that the real manifests
pass and that a deliberately broken document is reported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

Doc = dict[str, Any]
Check = Callable[[list[Doc]], list[str]]

WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}
SERVICES = ("runner", "tuner", "architect", "versions")


def pod_specs(docs: list[Doc]) -> Iterator[tuple[str, Doc]]:
    """Each workload's pod spec, with a name such as ``Deployment/runner``."""
    for doc in docs:
        if doc.get("kind") in WORKLOADS:
            yield f"{doc['kind']}/{doc['metadata']['name']}", doc["spec"]["template"]["spec"]


def containers(docs: list[Doc], *, init: bool = True) -> Iterator[tuple[str, Doc, Doc]]:
    """Every container (init containers too unless ``init`` is False) with its pod spec."""
    for owner, pod in pod_specs(docs):
        kinds = ("initContainers", "containers") if init else ("containers",)
        for kind in kinds:
            for container in pod.get(kind, []):
                yield f"{owner} container {container['name']}", container, pod


def probes(docs: list[Doc]) -> list[str]:
    """A serving container has startup, readiness and liveness probes on /healthz."""
    problems = []
    for name, container, _ in containers(docs, init=False):
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            path = container.get(probe, {}).get("httpGet", {}).get("path")
            if path != "/healthz":
                problems.append(f"{name}: no {probe} on /healthz")
    return problems


def resources(docs: list[Doc]) -> list[str]:
    """Every container, init containers included, requests and limits CPU and memory."""
    problems = []
    for name, container, _ in containers(docs):
        for bound in ("requests", "limits"):
            given = container.get("resources", {}).get(bound, {})
            missing = {"cpu", "memory"} - set(given)
            if missing:
                problems.append(f"{name}: no {bound} for {', '.join(sorted(missing))}")
    return problems


def no_session_affinity(docs: list[Doc]) -> list[str]:
    """No Service pins a client to a pod: any replica serves any call."""
    return [
        f"Service/{doc['metadata']['name']}: sessionAffinity {doc['spec']['sessionAffinity']}"
        for doc in docs
        if doc.get("kind") == "Service" and doc["spec"].get("sessionAffinity", "None") != "None"
    ]


def pinned_images(docs: list[Doc]) -> list[str]:
    """Every image names a tag other than ``latest``, or a digest."""
    problems = []
    for name, container, _ in containers(docs):
        image = str(container.get("image", ""))
        if "@sha256:" in image:
            continue
        last = image.rsplit("/", 1)[-1]
        tag = last.split(":", 1)[1] if ":" in last else ""
        if tag in {"", "latest"}:
            problems.append(f"{name}: image {image!r} is not pinned (tag {tag or 'missing'})")
    return problems


def _effective(container: Doc, pod: Doc, key: str) -> Any:
    """A security setting as the kubelet applies it: the container's, else the pod's."""
    own = container.get("securityContext", {})
    return own[key] if key in own else pod.get("securityContext", {}).get(key)


def non_root(docs: list[Doc]) -> list[str]:
    """Non-root by a numeric user, no privilege escalation, no capability, read-only root."""
    problems = []
    for name, container, pod in containers(docs):
        context = container.get("securityContext", {})
        if _effective(container, pod, "runAsNonRoot") is not True:
            problems.append(f"{name}: runAsNonRoot is not true")
        user = _effective(container, pod, "runAsUser")
        if not isinstance(user, int) or user == 0:
            problems.append(f"{name}: runAsUser {user!r} is not a numeric non-root user")
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        if context.get("capabilities", {}).get("drop") != ["ALL"]:
            problems.append(f"{name}: capabilities do not drop ALL")
        if context.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{name}: the root filesystem is writable")
    return problems


def token_from_secret(docs: list[Doc]) -> list[str]:
    """Each service reads RATCHET_TOKEN (and the database URL) from a Secret, never a literal."""
    problems = []
    for name, container, _ in containers(docs, init=False):
        env = {item["name"]: item for item in container.get("env", [])}
        for variable in ("RATCHET_TOKEN", "RATCHET_DATABASE_URL"):
            ref = env.get(variable, {}).get("valueFrom", {}).get("secretKeyRef", {})
            if not ref.get("name") or not ref.get("key") or ref.get("optional"):
                problems.append(f"{name}: {variable} is not from a required secretKeyRef")
    for doc in docs:
        if doc.get("kind") == "ConfigMap":
            leaked = {"RATCHET_TOKEN", "RATCHET_DATABASE_URL"} & set(doc.get("data", {}))
            problems += [f"ConfigMap/{doc['metadata']['name']}: holds {v}" for v in sorted(leaked)]
    return problems


def runner_autoscales(docs: list[Doc]) -> list[str]:
    """An autoscaling/v2 HPA scales the runner Deployment on CPU."""
    for doc in docs:
        if doc.get("kind") != "HorizontalPodAutoscaler":
            continue
        spec = doc["spec"]
        target = spec["scaleTargetRef"]
        on_cpu = any(m.get("resource", {}).get("name") == "cpu" for m in spec.get("metrics", []))
        if (
            doc["apiVersion"] == "autoscaling/v2"
            and (target["kind"], target["name"]) == ("Deployment", "runner")
            and on_cpu
        ):
            return []
    return ["no autoscaling/v2 HorizontalPodAutoscaler scales Deployment/runner on cpu"]


POLICIES: dict[str, Check] = {
    "probes": probes,
    "resources": resources,
    "no_session_affinity": no_session_affinity,
    "pinned_images": pinned_images,
    "non_root": non_root,
    "token_from_secret": token_from_secret,
    "runner_autoscales": runner_autoscales,
}
