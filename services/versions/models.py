"""Response models of the Versions API: what ``/openapi.json`` promises clients.

Every route answers with one of these, dumped to JSON once and tagged with an
ETag (see :mod:`.etags`); the models are the contract, so the registry builds
its payloads through them rather than by hand.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ratchet.vcs import ReleaseKind

from .rollouts import ReleaseRollout

VERSION_PATTERN = r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$"
CONVERSATION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"


class Problem(BaseModel):
    """Every 4xx/5xx answer: what went wrong and, where it helps, what to do."""

    detail: str


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    service: Literal["versions"] = "versions"


class VersionSummary(BaseModel):
    """One release as listed: the tag's metadata in brief."""

    version: str = Field(description="vMAJOR.MINOR.PATCH")
    commit: str = Field(description="The commit the tag points at.")
    kind: ReleaseKind
    author: str = Field(description="tuner | architect | human")
    parent: str | None = Field(description="The version this release was made from.")
    reason: str
    created_at: str = Field(description="When the releaser made it (from the metadata).")
    tagged_at: str = Field(description="The tag's own date.")
    state_hash: str | None
    eval_key: str = Field(description="Object-store key of the release's eval summary.")
    task: str | None = Field(
        default=None,
        description="The task the release serves (its tree's tasks/active.json); null for "
        "a release tagged before releases named their task.",
    )


class TaskInfo(BaseModel):
    """The task the home serves: its data in brief (a home serves one task for its life)."""

    name: str
    kind: str = Field(description="What the task asks of the agent: `intent` (routing).")
    description: str
    labels: int = Field(description="In-scope labels (intents).")
    label_names: list[str] = Field(description="The in-scope labels, in the declared order.")
    oos_label: str | None = Field(description="The reserved label of out-of-scope rows, if any.")
    train_rows: int = Field(description="Rows of train.csv: train and dev.")
    test_rows: int | None = Field(
        description="Rows of test.csv: the held-out split, kept in the home's heldout/ folder "
        "(null when it is not there)."
    )
    source: str
    licence: str


class FlaggedTag(BaseModel):
    """A tag that looks like a release but is not one: shown, never listed."""

    name: str
    reason: str


class VersionPage(BaseModel):
    versions: list[VersionSummary] = Field(description="Newest first.")
    next: str | None = Field(
        description="Cursor for the next (older) page: pass it as `cursor`; null on the last."
    )
    total: int = Field(description="Releases matching the filters, on every page.")
    active: str | None = Field(description="The version the fleet serves.")
    flagged: list[FlaggedTag] = Field(description="Tags that are not valid releases.")


class ChangelogEntry(BaseModel):
    commit: str
    author: str
    date: str
    subject: str


class Links(BaseModel):
    """What a release came from: an Architect job, feedback, or the Tuner's tally."""

    job_id: str | None = None
    feedback_ids: list[str] = Field(default_factory=list)
    feedback_applied: int | None = None
    trace_id: str | None = None
    learned_from: int | None = Field(
        default=None, description="Feedback events it learned from (details: /learned-from)."
    )
    conversations: list[str] = Field(
        default_factory=list, description="The conversations it learned from, as its tag names."
    )


class SandboxInfo(BaseModel):
    """What a release's candidate processes ran under in its tiers (its eval summary's
    ``sandbox``: :meth:`ratchet.sandbox.SandboxSupport.to_json`)."""

    kind: str = Field(description="bwrap (bubblewrap) | none (unconfined).")
    mode: str | None = Field(default=None, description="RATCHET_SANDBOX: auto | bwrap | none.")
    version: str | None = Field(default=None, description="The bubblewrap version.")
    process_limit: str | None = Field(
        default=None, description="How the process count was held: cgroup | none."
    )
    memory_limit: str | None = Field(
        default=None,
        description="How the tier's memory was held: cgroup (all processes together) | "
        "rlimit (each process).",
    )
    rules: list[str] = Field(default_factory=list, description="What the sandbox allowed.")
    reason: str = Field(default="", description="What it was, or why there was none.")

    def words(self) -> str:
        """In a line: ``bwrap 0.8.0 (no network, …; process count: cgroup)`` or
        ``unconfined (why)``, as ``ratchet versions show`` prints it."""
        if self.kind == "none":
            return f"unconfined ({self.reason})" if self.reason else "unconfined"
        limit = f"process count: {self.process_limit}" if self.process_limit else ""
        held = f"memory: {self.memory_limit}" if self.memory_limit else ""
        said = "; ".join(filter(None, [self.reason, limit, held]))
        return f"{self.kind} {self.version or ''} ({said})"


class VersionDetail(VersionSummary):
    tool_schema_hash: str | None
    active: bool = Field(description="The fleet serves this version now.")
    children: list[str] = Field(description="Releases made from this one.")
    links: Links
    changelog: list[ChangelogEntry] = Field(
        description="Commits since the parent release, newest first (at most 50)."
    )
    metadata: dict[str, Any] = Field(
        description="Every other field of the tag's metadata (e.g. the Tuner's kpis, micro)."
    )
    sandbox: SandboxInfo | None = Field(
        default=None,
        description="The sandbox its tiers ran candidates under, from its eval summary; null "
        "without a summary or for one written before summaries recorded it.",
    )
    rollout: ReleaseRollout | None = Field(
        default=None,
        description="The rollout the release went through (its id, status and verdict); null "
        "for a release served at once (the first, or with RATCHET_ROLLOUT=immediate).",
    )


class LineageEvent(BaseModel):
    """One piece of feedback a release learned from."""

    model_config = ConfigDict(extra="allow")

    conversation_id: str
    turn: int | None = Field(description="The turn, when the feedback or job named one.")
    trace_id: str | None = Field(
        description="Trace id of the Runner's route call that answered the turn, when known."
    )


class ReleaseLineage(BaseModel):
    """What a release learned from, as its tag names it (bounded: first events, total)."""

    version: str
    author: str
    parent: str | None
    source: str = Field(
        description="tuner_feedback: the feedback since the parent release that the state was "
        "tuned on; architect_job: the conversations the job's feedback or wake input named."
    )
    total: int = Field(description="Every feedback event it learned from, named or not.")
    truncated: bool = Field(description="The tag names only the first events (see total).")
    conversations: list[str] = Field(description="The conversations named, each once.")
    events: list[LineageEvent]


class ActiveVersion(BaseModel):
    version: str
    commit: str | None
    state_revision: int
    state_hash: str
    pinned: bool
    pointer_revision: int
    actor: str = Field(description="Who moved the pointer here.")
    reason: str
    at: str
    release: VersionSummary | None = Field(description="The release, if its tag is valid.")


class Kpis(BaseModel):
    """The key metrics of an eval summary, where it reports them."""

    heldout_accuracy: float | None = Field(
        default=None,
        description="Held-out accuracy of the policy the Runner serves (each message a new "
        "conversation, arms drawn as the Runner draws them).",
    )
    heldout_best_arm_accuracy: float | None = Field(
        default=None, description="Held-out accuracy of the release's best strategy arm alone."
    )
    exploration_cost: float | None = Field(
        default=None,
        description="Expected accuracy the served mix of arms gives up against the best arm.",
    )
    dev_accuracy: float | None = None
    p95_latency_ms: float | None = None
    error_rate: float | None = None
    runner_peak_rss_mb: float | None = Field(
        default=None, description="Peak resident memory of the release's Runner in the full tier."
    )
    # A task with out-of-scope rows only (ratchet.ci.out_of_scope); null otherwise.
    heldout_in_scope_accuracy: float | None = Field(
        default=None, description="Held-out accuracy over the in-scope rows."
    )
    heldout_oos_recall: float | None = Field(
        default=None, description="Share of out-of-scope held-out rows answered out of scope."
    )
    heldout_oos_precision: float | None = Field(
        default=None, description="Share of out-of-scope answers that were out-of-scope rows."
    )


class EvalReport(BaseModel):
    version: str
    commit: str
    key: str
    kpis: Kpis = Field(description="Key metrics found in the summary (null where absent).")
    summary: dict[str, Any] = Field(description="The summary exactly as stored.")


class Budgets(BaseModel):
    min_heldout_accuracy: float | None = None
    min_dev_accuracy: float | None = None
    max_p95_latency_ms: float | None = None
    max_error_rate: float | None = None


class KpiPoint(Kpis):
    version: str
    kind: ReleaseKind
    author: str
    reason: str


class KpiSeries(BaseModel):
    points: list[KpiPoint] = Field(description="Releases with an eval summary, oldest first.")
    budgets: Budgets
    budgets_source: str = Field(description="Which ci/budgets.json the lines come from.")
    releases: int = Field(description="Releases in all, with a summary or not.")


FileStatus = Literal["added", "modified", "deleted", "renamed", "copied", "type-changed"]


class FileChange(BaseModel):
    status: FileStatus
    path: str
    old_path: str | None = None
    additions: int | None = Field(default=None, description="Null for binary files.")
    deletions: int | None = None


class StateChange(BaseModel):
    path: str = Field(description="JSON Pointer into the state document.")
    op: Literal["added", "removed", "changed"]
    before: Any = None
    after: Any = None


class StateDiff(BaseModel):
    path: str = "state/active.state.json"
    changes: list[StateChange]
    truncated: bool = Field(description="More changes exist than are listed.")


class VersionDiff(BaseModel):
    version: str
    against: str
    commit: str
    against_commit: str
    files: list[FileChange] = Field(description="Files changed from `against` to `version`.")
    files_truncated: bool
    state: StateDiff


class PointerMove(BaseModel):
    revision: int
    version: str
    commit: str | None
    action: str = Field(description="activate | rollback | pin | unpin")
    actor: str
    reason: str
    at: str
    pinned: bool
    state_revision: int
    state_hash: str


class PointerHistory(BaseModel):
    moves: list[PointerMove] = Field(description="Every move of the active pointer, newest first.")
    active: str | None
    pinned: bool
