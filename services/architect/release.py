"""Releasing a candidate: rebase on main under the lock, commit, summary, tag, pointer.

The order makes every crash safe to resume:

1. under the release lock, the workspace back at a tagged HEAD (a commit a
   killed releaser never tagged is discarded, see :meth:`ReleaseStore.begin`);
2. the candidate's commit is cherry-picked onto main (a one-commit rebase);
   if main moved since the candidate's base, the micro tier runs again on
   the rebased tree;
3. commit, then ``evals/{commit}/summary.json`` (write-once), then the tag:
   a tag never exists without its summary;
4. the active pointer moves last, so it never names a missing tag. A crash
   between tag and pointer is finished by :func:`finish_released` on restart
   (the tag's metadata names its job).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from git import GitCommandError

from ratchet.ci.micro import run_micro
from ratchet.errors import PinnedError
from ratchet.state import ACTIVE_KEY, ActiveState, StateDocument, StateManager
from ratchet.vcs import Release, ReleaseMetadata, ReleaseStore, open_repo

from .baseline import Baseline, summary_key
from .bump import decide, tool_schema_hash
from .candidates import Candidate, read_state
from .context import ArchitectContext
from .jobs import Job
from .lineage import job_lineage
from .stages import Rejected

log = logging.getLogger(__name__)


def released_by(releases: ReleaseStore, job_id: str) -> Release | None:
    """The release a job made, if a run of it got as far as the tag."""
    for release in releases.releases():
        if (release.metadata.model_extra or {}).get("job_id") == job_id:
            return release
    return None


def finish_released(manager: StateManager, workspace: Path, release: Release) -> None:
    """Move the pointer to a job's release unless it was served already (crash recovery)."""
    if any(entry.version == release.version for entry in manager.pointer_history()):
        return
    with open_repo(workspace) as repo:
        raw = repo.git.show(f"{release.commit}:state/{ACTIVE_KEY}")
    document = StateDocument.from_file_bytes(release.version, raw.encode())
    job_id = (release.metadata.model_extra or {}).get("job_id")
    reason = f"job {job_id}: released before a restart, activated after it"
    manager.activate(
        release.version, document, actor="architect", reason=reason, commit=release.commit
    )


def _undo(workspace: Path) -> None:
    with open_repo(workspace) as repo:
        repo.git.reset("--hard", "--quiet", "HEAD")
        repo.git.clean("-fdq")


def release_candidate(
    ctx: ArchitectContext,
    job: Job,
    candidate: Candidate,
    active: ActiveState,
    base: Baseline,
    build: Path,
    lines: list[str],
) -> Release:
    workspace = ctx.settings.workspace_path
    with ctx.releases.begin():
        try:
            ctx.manager.refuse_if_pinned()
        except PinnedError as exc:
            raise Rejected(str(exc)) from None
        with open_repo(workspace) as repo:
            head = repo.head.commit.hexsha
            try:
                repo.git.cherry_pick("--no-commit", candidate.commit)
            except GitCommandError as exc:
                _undo(workspace)
                raise Rejected(
                    f"main moved and the change no longer applies: {str(exc).splitlines()[-1]}"
                ) from None
            if not repo.git.diff("--cached", "--name-only").strip():
                _undo(workspace)
                raise Rejected("the change is already on main: nothing to release")
        try:
            return _commit_and_tag(ctx, job, candidate, active, base, build, head, lines)
        except BaseException:
            _undo(workspace)
            raise


def _commit_and_tag(
    ctx: ArchitectContext,
    job: Job,
    candidate: Candidate,
    active: ActiveState,
    base: Baseline,
    build: Path,
    head: str,
    lines: list[str],
) -> Release:
    workspace = ctx.settings.workspace_path
    state = read_state(workspace)
    extra: dict[str, Any] = {}
    if head != active.pointer.commit:
        micro = run_micro(state, workspace)
        lines.append(f"main moved since {active.version}: rebased; {micro.reason}")
        extra["rebase_micro"] = {"passed": micro.passed, "seconds": round(micro.seconds, 3)}
        if not micro.passed:
            raise Rejected(f"after the rebase on main, {micro.reason}")
    bump = decide(base.tools, candidate.tools, build, workspace)
    lines.append(f"{bump.kind} release" + (f": {'; '.join(bump.reasons)}" if bump.reasons else ""))
    metadata = ReleaseMetadata.model_validate(
        {
            "kind": bump.kind,
            "author": "architect",
            "state_hash": state.content_hash(),
            "tool_schema_hash": tool_schema_hash(candidate.tools),
            "reason": job.text[:300],
            "job_id": job.id,
            "base_version": active.version,
            "candidate": candidate.commit,
            "bump_reasons": bump.reasons,
            "authorised": sorted({"test-changes"} if candidate.authorised_notes else set()),
            "authorised_changes": candidate.authorised_notes,
            "learned_from": job_lineage(job, ctx.settings.data_path),
        }
    )

    def write_summary(commit: str) -> dict[str, Any]:
        key = summary_key(commit)
        summary = {
            "commit": commit,
            "job_id": job.id,
            "kind": str(bump.kind),
            "passed": True,
            **{k: v for r in candidate.reports.values() for k, v in r.metrics.items()},
            "tiers": {name: r.to_json() for name, r in candidate.reports.items()},
            "baseline": {
                "version": base.version,
                "heldout_accuracy": base.metric("heldout_accuracy"),
                "dev_accuracy": base.metric("dev_accuracy"),
            },
            "bump_reasons": bump.reasons,
            "authorised_changes": candidate.authorised_notes,
            **extra,
        }
        ctx.objects.put_once(key, json.dumps(summary, indent=2, sort_keys=True).encode())
        return {"eval_key": key}

    notes = "".join(f"\n\n{note}" for note in candidate.authorised_notes)
    release = ctx.releases.release(
        metadata,
        message=f"{job.text.splitlines()[0][:72] if job.text.strip() else 'architect'} "
        f"(job {job.id}){notes}",
        before_tag=write_summary,
    )
    ctx.manager.activate(
        release.version,
        state,
        actor="architect",
        reason=f"job {job.id}: {job.text[:120]}",
        commit=release.commit,
    )
    log.info("released %s for job %s", release.version, job.id)
    return release
