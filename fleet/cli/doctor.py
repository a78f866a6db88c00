"""``ratchet doctor``: independent preflight checks, each with a fix hint.

Every check runs even when an earlier one failed, so one run lists
everything to fix. A home that was never initialised is healthy (the first
``ratchet init``/``up`` creates it); a home that exists but is broken is not.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass

import httpx

from fleet.settings import SERVICE_SETTINGS
from ratchet.config import Backend, CommonSettings, load
from ratchet.errors import RatchetError
from ratchet.objects import open_object_store
from ratchet.sandbox import SandboxSupport, sandbox_support
from ratchet.state import open_state_manager
from ratchet.vcs import ReleaseStore, is_repository
from ratchet.vcs.workspace import withheld_in_history


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def check_python(settings: CommonSettings) -> Check:
    ok = sys.version_info >= (3, 11)
    return Check("python", ok, sys.version.split()[0], "" if ok else "install Python 3.11 or newer")


def check_git(settings: CommonSettings) -> Check:
    path = shutil.which("git")
    if path is None:
        return Check("git", False, "git is not on PATH", "install git (apt-get install git)")
    out = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
    return Check("git", out.returncode == 0, out.stdout.strip() or out.stderr.strip())


def check_settings(settings: CommonSettings) -> Check:
    problems = []
    for cls in SERVICE_SETTINGS.values():
        try:
            load(cls)
        except RatchetError as exc:
            problems.append(str(exc))
    if problems:
        return Check(
            "settings",
            False,
            "; ".join(problems),
            "fix the RATCHET_* variables named above (see README: Configuration)",
        )
    return Check("settings", True, f"home {settings.home_path}, backend {settings.backend}")


def check_home_writable(settings: CommonSettings) -> Check:
    home = settings.home_path
    target = home if home.exists() else next(p for p in home.parents if p.exists())
    ok = os.access(target, os.W_OK)
    return Check(
        "home",
        ok,
        f"{home} ({'exists' if home.exists() else 'will be created'})",
        "" if ok else f"make {target} writable or set RATCHET_HOME elsewhere",
    )


def check_workspace(settings: CommonSettings) -> Check:
    workspace = settings.workspace_path
    if not workspace.exists():
        return Check("workspace", True, "not created yet: `ratchet init` or `ratchet up` will")
    if not is_repository(workspace):
        return Check(
            "workspace",
            False,
            f"{workspace} exists but is not a git repository",
            f"move {workspace} away, then run `ratchet init` to make a fresh workspace",
        )
    scan = ReleaseStore(workspace, settings.locks_path / "release.lock").scan()
    if scan.invalid:
        names = ", ".join(f"{t.name} ({t.reason})" for t in scan.invalid)
        return Check(
            "workspace",
            False,
            f"tags that are not releases: {names}",
            "delete or re-create those tags as annotated tags with JSON metadata",
        )
    latest = scan.releases[0].version if scan.releases else "no release yet"
    return Check("workspace", True, f"{workspace}: {len(scan.releases)} releases, latest {latest}")


def check_heldout(settings: CommonSettings) -> Check:
    """No held-out split in the workspace's objects: a candidate's worktree shares them."""
    if not is_repository(settings.workspace_path):
        return Check("held-out", True, "no workspace yet")
    found = withheld_in_history(settings.workspace_path)
    if found:
        return Check(
            "held-out",
            False,
            f"the workspace's history holds held-out splits ({', '.join(found)}): a candidate "
            "can read their labels with `git show` (a home made before the held-out vault)",
            "make a new home (a new RATCHET_HOME, then `ratchet init`): its workspace holds "
            "no held-out file; this one's history is left as it is",
        )
    return Check("held-out", True, f"kept apart in {settings.heldout_path}")


def check_state(settings: CommonSettings) -> Check:
    if not is_repository(settings.workspace_path):
        return Check("state", True, "no workspace yet")
    try:
        manager = open_state_manager(settings)
        pointer = manager.pointer()
        if pointer is None:
            return Check("state", True, "no active version yet: `ratchet init` releases v0.1.0")
        active = manager.read_active()
        staging = manager.peek_staging()  # doctor only reads
    except RatchetError as exc:
        return Check(
            "state",
            False,
            str(exc),
            "restore the document from its history (state/history/) or re-run "
            "`ratchet init` to repair derived files",
        )
    assert active is not None
    pinned = " (pinned)" if pointer.pinned else ""
    staged = "no staging yet" if staging is None else f"staging revision {staging.revision}"
    return Check(
        "state", True, f"active {pointer.version}{pinned} revision {active.revision}, {staged}"
    )


def check_object_store(settings: CommonSettings) -> Check:
    if settings.backend == Backend.FILESYSTEM and not settings.objects_path.exists():
        return Check("object store", True, "not created yet")
    try:
        store = open_object_store(settings)
        key = f"doctor/{uuid.uuid4().hex}"
        store.put(key, b"ok")
        ok = store.get(key).data == b"ok"
        store.delete(key)
    except Exception as exc:
        return Check(
            "object store",
            False,
            f"{type(exc).__name__}: {exc}",
            "check RATCHET_S3_* settings and that the store is reachable"
            if settings.backend == Backend.S3
            else "check the home folder's permissions",
        )
    return Check("object store", ok, repr(store))


def _serves_ratchet(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def check_ports(settings: CommonSettings) -> Check:
    busy: list[str] = []
    served: list[str] = []
    for name, cls in SERVICE_SETTINGS.items():
        try:
            svc = load(cls)
        except RatchetError:
            continue  # reported by the settings check
        with socket.socket(socket.AF_INET6 if ":" in svc.host else socket.AF_INET) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((svc.host.strip("[]"), svc.port))
                continue
            except OSError:
                pass
        (served if _serves_ratchet(svc.base_url) else busy).append(f"{name} {svc.port}")
    if busy:
        return Check(
            "ports",
            False,
            "held by something else: " + ", ".join(busy),
            "stop what holds them or set RATCHET_<SERVICE>_PORT to a free port",
        )
    detail = "free" if not served else "served by a running fleet: " + ", ".join(served)
    return Check("ports", True, detail)


REFUSAL = "until then the Architect refuses autonomous coders (human patches run, with a warning)"


def _sandbox_fix(support: SandboxSupport) -> str:
    """What to do about a machine without a working sandbox, by why it has none."""
    if support.mode == "none":
        return "unset RATCHET_SANDBOX (or set it to auto or bwrap) to confine candidates"
    if support.bwrap is None:
        return "run `make sandbox` (Debian: apt-get install bubblewrap)"
    return (
        "bubblewrap needs unprivileged user namespaces: on a host, "
        "sysctl kernel.unprivileged_userns_clone=1 (and, on Ubuntu, "
        "kernel.apparmor_restrict_unprivileged_userns=0); in a container, run it with "
        "--security-opt seccomp=unconfined, apparmor=unconfined and systempaths=unconfined "
        "(Docker's defaults refuse them; docker-compose.yml sets them for the Architect)"
    )


def check_sandbox(settings: CommonSettings) -> Check:
    """The sandbox candidate processes run in (:func:`ratchet.sandbox.sandbox_support`)."""
    try:
        support = sandbox_support()
    except ValueError as exc:  # RATCHET_SANDBOX names no mode
        return Check("sandbox", False, str(exc), "set RATCHET_SANDBOX to auto, bwrap or none")
    if support.available:
        detail = (
            f"{support.kind} {support.version or '(version unknown)'} "
            f"(RATCHET_SANDBOX={support.mode}): process count held by {support.process_limit}, "
            f"memory by {support.memory_limit}"
        )
        return Check("sandbox", True, detail)
    if support.mode == "none":
        detail = f"{support.reason}: candidate processes run unconfined; {REFUSAL}"
    else:
        detail = f"no sandbox: {support.reason}; {REFUSAL}"
        if support.required:
            detail += "; with RATCHET_SANDBOX=bwrap every tier fails"
    return Check("sandbox", False, detail, _sandbox_fix(support))


CHECKS: list[Callable[[CommonSettings], Check]] = [
    check_python,
    check_git,
    check_sandbox,
    check_settings,
    check_home_writable,
    check_workspace,
    check_heldout,
    check_state,
    check_object_store,
    check_ports,
]


def run_checks(settings: CommonSettings) -> list[Check]:
    results = []
    for check in CHECKS:
        try:
            results.append(check(settings))
        except Exception as exc:  # a check that crashes is a failed check, not a crash
            results.append(
                Check(
                    check.__name__.removeprefix("check_"),
                    False,
                    f"{type(exc).__name__}: {exc}",
                    "report this as a bug",
                )
            )
    return results
