"""The demo's record of releases: each with its evals and rollout, measured where missing,
and the best one left serving."""

from __future__ import annotations

from typing import Any

import httpx

from ratchet.bootstrap import open_manager, release_store, state_at
from ratchet.builds import BuildStore
from ratchet.ci.tiers import CiOptions
from ratchet.config import CommonSettings
from ratchet.objects import open_object_store
from ratchet.rollouts.store import RolloutStore
from services.architect.baseline import measured

from .plan import DemoPlan, Progress
from .report import ReleaseRow


def releases(
    settings: CommonSettings, versions_url: str, served: dict[str, float]
) -> list[ReleaseRow]:
    """Every release, oldest first, with its evals from the Versions API, when each was
    first served (``served``) and how its rollout ended."""
    rows = []
    cursor: str | None = None
    with httpx.Client(base_url=versions_url, timeout=10) as http:
        listed: list[dict[str, Any]] = []
        while True:
            page = http.get("/versions", params={"cursor": cursor} if cursor else {}).json()
            listed += page["versions"]
            cursor = page.get("next")
            if not cursor:
                break
        for item in reversed(listed):
            evals = http.get(f"/versions/{item['version']}/evals")
            kpis = evals.json()["kpis"] if evals.status_code == 200 else {}
            rows.append(
                ReleaseRow(
                    item["version"],
                    str(item["kind"]),
                    item["author"],
                    kpis.get("dev_accuracy"),
                    kpis.get("heldout_accuracy"),
                    served.get(item["version"]),
                    rollout_note(settings, item["version"]),
                )
            )
    return rows


def rollout_note(settings: CommonSettings, version: str) -> str:
    """How ``version`` reached traffic, for the report: its rollout's end, if it had one."""
    rollout = RolloutStore(open_manager(settings).store).of_version(version)
    if rollout is None:
        return ""
    return f"rollout {rollout.id} {rollout.status.value}"


def measure_missing(
    settings: CommonSettings, plan: DemoPlan, progress: Progress, rows: list[ReleaseRow]
) -> list[ReleaseRow]:
    """Releases without an eval summary, measured as the Architect measures a baseline."""
    missing = [r for r in rows if r.heldout_accuracy is None]
    if not missing:
        return rows
    progress.phase("measuring releases without evals (fast + full tiers)", len(missing))
    objects = open_object_store(settings)
    releases = {r.version: r for r in release_store(settings).releases()}
    builds = BuildStore.open(settings)
    options = CiOptions(
        unit_tests=(),
        heldout_sample=plan.heldout_sample or None,
        heldout=settings.heldout_path,
    )
    out = []
    for row in rows:
        if row.heldout_accuracy is None:
            release = releases[row.version]
            document = state_at(settings.workspace_path, release.commit)
            build = builds.ensure(release.commit)
            base = measured(row.version, release.commit, document, build, objects, options)
            row = ReleaseRow(
                row.version,
                row.kind,
                row.author,
                base.metric("dev_accuracy"),
                base.metric("heldout_accuracy"),
                row.served_at,
                "; ".join(n for n in (row.note, "measured by the demo") if n),
            )
            progress.advance()
        out.append(row)
    return out


def keep_best(
    settings: CommonSettings, progress: Progress, rows: list[ReleaseRow]
) -> tuple[str | None, str | None]:
    """Leave the release with the best held-out accuracy active (a rollback if needed)."""
    manager = open_manager(settings)
    pointer = manager.pointer()
    active = pointer.version if pointer else None
    # never an aborted release: live feedback refused it, whatever its offline numbers
    rated = [r for r in rows if r.heldout_accuracy is not None and "aborted" not in r.note]
    if not rated:
        return None, active
    best = max(rated, key=lambda r: (r.heldout_accuracy or 0.0, r.version)).version
    if best != active:
        moved = manager.rollback(
            actor="human", reason=f"demo: {best} has the best held-out accuracy", to=best
        )
        active = moved.version
        progress.note(f"pointer moved back to {best} (best held-out accuracy)")
    return best, active
