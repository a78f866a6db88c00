"""Releasing a candidate: rebase on main under the lock, commit, summary, tag, pointer.

The order makes every crash safe to resume:

1. under the release lock, the workspace back at a tagged HEAD (a commit a
   killed releaser never tagged is discarded, see :meth:`ReleaseStore.begin`);
2. the candidate's commit is cherry-picked onto main (a one-commit rebase);
   if main moved since the candidate's base, the micro tier runs again on
   the rebased tree;
3. commit, then ``evals/{commit}/summary.json`` (write-once), then the tag:
   a tag never exists without its summary;
4. the release is delivered last (the pointer moves, or a rollout serves it as
   the canary), so the pointer never names a missing tag. A crash between tag
   and delivery is finished by :func:`finish_released` on restart (the tag's
   metadata names its job).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from git import GitCommandError

from ratchet.ci.micro import run_micro
from ratchet.errors import ConflictError, PinnedError
from ratchet.promotion import refuse_if_made_elsewhere
from ratchet.rollouts.delivery import Deliverer
from ratchet.sandbox import sandbox_support
from ratchet.state import ACTIVE_KEY, StateDocument
from ratchet.vcs import Release, ReleaseMetadata, ReleaseStore, open_repo

from .baseline import Baseline, summary_key
from .bump import Bump, decide, tool_schema_hash
from .candidates import Candidate, read_state
from .jobrun import JobRun
from .lineage import job_lineage
from .stages import LeaseLost, Rejected

log = logging.getLogger(__name__)


def released_by(releases: ReleaseStore, job_id: str) -> Release | None:
    """The release a job made, if a run of it got as far as the tag."""
    for release in releases.releases():
        if (release.metadata.model_extra or {}).get("job_id") == job_id:
            return release
    return None


def finish_released(deliverer: Deliverer, workspace: Path, release: Release) -> None:
    """Deliver a job's release unless it was delivered already (crash recovery): served,
    or given a rollout."""
    manager = deliverer.manager
    if deliverer.rollouts.of_version(release.version) is not None or any(
        entry.version == release.version for entry in manager.pointer_history()
    ):
        return
    with open_repo(workspace) as repo:
        raw = repo.git.show(f"{release.commit}:state/{ACTIVE_KEY}")
    document = StateDocument.from_file_bytes(release.version, raw.encode())
    job_id = (release.metadata.model_extra or {}).get("job_id")
    reason = f"job {job_id}: released before a restart, delivered after it"
    deliverer(release.version, document, actor="architect", reason=reason, commit=release.commit)


def _undo(workspace: Path) -> None:
    with open_repo(workspace) as repo:
        repo.git.reset("--hard", "--quiet", "HEAD")
        repo.git.clean("-fdq")


def release_candidate(
    run: JobRun, candidate: Candidate, base: Baseline, lines: list[str]
) -> Release:
    """``candidate`` on main, committed, summarised, tagged and served; Rejected if it no
    longer applies or main moved under it and micro fails on the rebased tree."""
    with run.ctx.releases.begin():
        # Renewing the lease under the release lock proves the job is still this run's:
        # a run that stalled past its lease must not release beside the one that took over.
        if not run.ctx.jobs.heartbeat(run.job.id):
            raise LeaseLost(run.job.id)
        try:
            run.ctx.manager.refuse_if_pinned()
            # Another home may have released while this job ran: on this workspace's
            # main, the release would drop that home's change.
            refuse_if_made_elsewhere(run.ctx.manager, run.ctx.releases)
        except (PinnedError, ConflictError) as exc:
            raise Rejected(str(exc)) from None
        head = _cherry_pick(run.workspace, candidate.commit)
        try:
            return _commit_and_tag(run, candidate, base, head, lines)
        except BaseException:
            _undo(run.workspace)
            raise


def _cherry_pick(workspace: Path, commit: str) -> str:
    """Stage ``commit``'s change on the workspace's HEAD (returned); Rejected, with the
    workspace left as it was, if it does not apply or changes nothing there."""
    with open_repo(workspace) as repo:
        head = repo.head.commit.hexsha
        try:
            repo.git.cherry_pick("--no-commit", commit)
        except GitCommandError as exc:
            _undo(workspace)
            raise Rejected(
                f"main moved and the change no longer applies: {str(exc).splitlines()[-1]}"
            ) from None
        if not repo.git.diff("--cached", "--name-only").strip():
            _undo(workspace)
            raise Rejected("the change is already on main: nothing to release")
    return head


def _commit_and_tag(
    run: JobRun, candidate: Candidate, base: Baseline, head: str, lines: list[str]
) -> Release:
    """The staged change released (commit, summary, tag), then delivered (pointer or rollout)."""
    job = run.job
    state = read_state(run.workspace)
    extra = _micro_if_rebased(run, state, head, lines)
    bump = decide(base.tools, candidate.tools, run.build, run.workspace)
    lines.append(f"{bump.kind} release" + (f": {'; '.join(bump.reasons)}" if bump.reasons else ""))
    notes = "".join(f"\n\n{note}" for note in candidate.authorised_notes)
    release = run.ctx.releases.release(
        _metadata(run, candidate, bump, state),
        message=f"{job.text.splitlines()[0][:72] if job.text.strip() else 'architect'} "
        f"(job {job.id}){notes}",
        before_tag=_summary_writer(run, candidate, base, bump, extra),
    )
    run.ctx.deliverer(
        release.version,
        state,
        actor="architect",
        reason=f"job {job.id}: {job.text[:120]}",
        commit=release.commit,
    )
    log.info("released %s for job %s", release.version, job.id)
    return release


def _micro_if_rebased(
    run: JobRun, state: StateDocument, head: str, lines: list[str]
) -> dict[str, Any]:
    """If main moved since the base, micro again on the rebased tree (Rejected if it
    fails); what it measured, for the summary."""
    if head == run.base_commit:
        return {}
    micro = run_micro(state, run.workspace)
    lines.append(f"main moved since {run.base_version}: rebased; {micro.reason}")
    if not micro.passed:
        raise Rejected(f"after the rebase on main, {micro.reason}")
    return {"rebase_micro": {"passed": micro.passed, "seconds": round(micro.seconds, 3)}}


def _metadata(
    run: JobRun, candidate: Candidate, bump: Bump, state: StateDocument
) -> ReleaseMetadata:
    """The release tag's metadata: what, by whom, from which job, base and candidate."""
    return ReleaseMetadata.model_validate(
        {
            "kind": bump.kind,
            "author": "architect",
            "state_hash": state.content_hash(),
            "tool_schema_hash": tool_schema_hash(candidate.tools),
            "reason": run.job.text[:300],
            "job_id": run.job.id,
            "base_version": run.base_version,
            "candidate": candidate.commit,
            "bump_reasons": bump.reasons,
            "authorised": sorted({"test-changes"} if candidate.authorised_notes else set()),
            "authorised_changes": candidate.authorised_notes,
            "learned_from": job_lineage(run.job, run.ctx.settings),
        }
    )


def _summary_writer(
    run: JobRun, candidate: Candidate, base: Baseline, bump: Bump, extra: dict[str, Any]
) -> Callable[[str], dict[str, Any]]:
    """What runs between commit and tag: the release's eval summary, written once."""

    def write_summary(commit: str) -> dict[str, Any]:
        key = summary_key(commit)
        summary = {
            "commit": commit,
            "job_id": run.job.id,
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
            "sandbox": sandbox_support().to_json(),  # what the candidate's tiers ran under
            **extra,
        }
        run.ctx.objects.put_once(key, json.dumps(summary, indent=2, sort_keys=True).encode())
        return {"eval_key": key}

    return write_summary
