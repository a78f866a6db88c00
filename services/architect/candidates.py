"""One candidate through the gates: worktree → coder → policy → micro → calibrate → fast (→ full).

The candidate lives in a throwaway worktree at the active version; what the
coder wrote is committed there (the commit object stays in the workspace's
object database after the worktree is removed, ready to be rebased onto main
at release), and every tier runs that tree's code in its own processes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ratchet import datasets
from ratchet.ci.agent_process import AgentRefused, agent_process
from ratchet.ci.budgets import load_budgets
from ratchet.ci.exploration import calibrated, declared_arms, score_arms
from ratchet.ci.report import TierReport
from ratchet.ci.tiers import run_tier
from ratchet.errors import CorruptDocumentError, PolicyError
from ratchet.policy import FileChange, authorisations, check_change
from ratchet.state import ACTIVE_KEY, StateDocument
from ratchet.state.revisioned import dumps
from ratchet.vcs import job_worktree, open_repo
from ratchet.vcs.releases import staged_changes

from .coders import CoderError, Proposal
from .jobrun import JobRun
from .stages import Rejected


@dataclass
class Candidate:
    index: int
    summary: str
    commit: str
    state: StateDocument
    noise_margin: float
    tree: Path
    reports: dict[str, TierReport] = field(default_factory=dict)
    authorised_notes: list[str] = field(default_factory=list)

    @property
    def number(self) -> int:
        """1-based, as logs and records count candidates."""
        return self.index + 1

    def metric(self, name: str) -> float | None:
        for report in self.reports.values():
            value = report.metrics.get(name)
            if value is not None:
                return value
        return None

    @property
    def tools(self) -> dict[str, list[dict[str, Any]]]:
        tools: dict[str, list[dict[str, Any]]] = self.reports["full"].details.get("tools", {})
        return tools


def read_state(root: Path) -> StateDocument:
    path = root / "state" / ACTIVE_KEY
    try:
        return StateDocument.from_file_bytes(str(path), path.read_bytes())
    except (OSError, CorruptDocumentError) as exc:
        raise Rejected(f"the candidate's state does not load: {exc}") from None


def commit_worktree(tree: Path, message: str) -> tuple[str, list[FileChange]]:
    """Stage everything the coder wrote; (commit, the changes) once committed."""
    with open_repo(tree) as repo:
        repo.git.add("-A")
        paths = [p for p in repo.git.diff("--cached", "--name-only", "--no-renames").splitlines()]
        changes = staged_changes(repo, [p for p in paths if p])
        if not changes:
            return "", []
        repo.git.commit("-q", "-m", message)
        return repo.head.commit.hexsha, changes


def diff_fingerprint(tree: Path, base_commit: str, commit: str) -> str:
    """What a candidate changed, as a key: the hash of its diff from the base."""
    with open_repo(tree) as repo:
        diff = repo.git.diff("--no-renames", "--full-index", base_commit, commit)
    return "diff:" + hashlib.sha256(diff.encode()).hexdigest()[:16]


def build_candidate(run: JobRun, index: int) -> Candidate:
    """Candidate ``index`` through the gates every candidate meets, up to ``fast``.

    Rejected at the first that says no. The worktree stays open on the run's
    ``worktrees``, for the full tier should the candidate get there.
    """
    number = index + 1
    with run.recorder.stage("worktree", number) as log:
        tree = run.worktrees.enter_context(
            job_worktree(run.workspace, run.base_commit, parent=run.ctx.worktrees)
        )
        log.append(f"candidate {number}: worktree at {run.base_commit[:12]}")
    proposal = _propose(run, tree, index)
    candidate = _check_policy(run, tree, index, proposal)
    run_gate(run, candidate, "micro")
    calibrate(run, candidate)
    run_gate(run, candidate, "fast")
    return candidate


def _propose(run: JobRun, tree: Path, index: int) -> Proposal:
    """The ``coder`` stage: the coder writes candidate ``index`` into ``tree``."""
    number = index + 1
    with run.recorder.stage("coder", number) as log:
        try:
            proposal = run.coder.propose(run.request, tree, index)
        except CoderError as exc:
            log += exc.log  # what it tried before giving up (questions, tokens, cost)
            raise Rejected(f"{run.coder.name} coder: {exc}") from None
        log += [proposal.summary, *proposal.log]
        run.book.update(number, summary=proposal.summary, fingerprint=proposal.fingerprint)
    return proposal


def _check_policy(run: JobRun, tree: Path, index: int, proposal: Proposal) -> Candidate:
    """The ``policy`` stage: what the coder wrote, committed and within the path policy,
    with a state that loads and budgets that parse."""
    number = index + 1
    with run.recorder.stage("policy", number) as log:
        commit, changes = commit_worktree(tree, f"candidate {number} of job {run.request.job_id}")
        if not changes:
            raise Rejected("the candidate changes nothing")
        run.book.update(
            number,
            commit=commit,
            fingerprint=proposal.fingerprint or diff_fingerprint(tree, run.base_commit, commit),
        )
        try:
            notes = check_change("architect", changes, authorised=authorisations(run.request.text))
        except PolicyError as exc:
            raise Rejected(str(exc)) from None
        state = read_state(tree)
        try:
            margin = load_budgets(tree).noise_margin
        except CorruptDocumentError as exc:
            raise Rejected(str(exc)) from None
        log.append(f"{len(changes)} file(s) within the policy; candidate {commit[:12]}")
        log += notes
    return Candidate(index, proposal.summary, commit, state, margin, tree, {}, notes)


def calibrate(run: JobRun, candidate: Candidate) -> None:
    """The candidate's arms measured on dev become its priors (dominated arms retired,
    exploration capped: ``ratchet.ci.exploration``), amended into its commit, so the
    tiers judge and the release serves the policy users will get."""
    with run.recorder.stage("calibrate", candidate.number) as log:
        arms = list(declared_arms(candidate.state))
        if not arms:
            log.append("the state declares no strategy arms: nothing to calibrate")
            return
        try:
            budget = load_budgets(candidate.tree).exploration
            dev = datasets.load(run.build, "dev")
            with agent_process(candidate.tree, [e.text for e in dev], "fast") as agent:
                scores = score_arms(agent, candidate.state, dev, arms)
        except (AgentRefused, CorruptDocumentError) as exc:
            raise Rejected(f"calibration: {exc}") from None
        state, lines = calibrated(candidate.state, scores, budget)
        log += lines
        commit = amend_state(candidate.tree, dumps(state.to_json(), pretty=True), run.base_commit)
        if commit is None:
            return
        candidate.commit, candidate.state = commit, state
        run.book.update(candidate.number, commit=candidate.commit)
        log.append(f"priors written to state/{ACTIVE_KEY}; candidate {candidate.commit[:12]}")


def amend_state(tree: Path, raw: bytes, base: str) -> str | None:
    """The candidate's commit (the tree's HEAD) amended to hold ``raw`` as its state: the
    new commit, or None if the state already is ``raw``. Rejected if the amended commit
    would change nothing on ``base``: calibration undid the candidate's whole change
    (e.g. priors set by hand, which calibration sets from dev)."""
    path = tree / "state" / ACTIVE_KEY
    if path.read_bytes() == raw:
        return None
    path.write_bytes(raw)
    with open_repo(tree) as repo:
        repo.git.add("--", f"state/{ACTIVE_KEY}")
        if not repo.git.diff("--cached", "--name-only", base).strip():
            repo.git.reset("--hard", "--quiet", "HEAD")
            raise Rejected(
                "after calibration the candidate changes nothing: its change was what "
                "calibration sets from the dev split (the arms' priors, the exploration share)"
            )
        repo.git.commit("-q", "--amend", "--no-edit")
        return str(repo.head.commit.hexsha)


def run_gate(run: JobRun, candidate: Candidate, tier: str) -> TierReport:
    """One CI tier on the candidate's tree, recorded on it; Rejected if it fails."""
    with run.recorder.stage(tier, candidate.number) as log:
        report = run_tier(tier, candidate.state, candidate.tree, run.build, run.ctx.ci)
        candidate.reports[tier] = report
        run.book.tier(candidate.number, report)
        details = report.details.get("unit_tests")
        if isinstance(details, dict) and details.get("output"):
            log.append(str(details["output"]))
        if not report.passed:
            raise Rejected(report.reason)
        log.append(report.reason)
    return report
