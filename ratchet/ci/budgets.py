"""``ci/budgets.json``: the gates of each tier, read and judged in one place.

The document's schema is described in ``ci/README.md``. The harness reads the
budgets of the code root under test (the path policy guarantees a candidate
can only tighten them), and turns a tier's metrics into pass/fail with one
reason per broken budget, so every verdict names the number that failed it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ratchet.errors import CorruptDocumentError
from ratchet.rollouts.policy import RolloutPolicy
from ratchet.sandbox.confinement import DEFAULT_DISK_MB, DEFAULT_MAX_PROCESSES

BUDGETS_PATH = Path("ci") / "budgets.json"
TIERS = ("micro", "fast", "full")


class TierLimits(BaseModel):
    """What a tier's candidate processes may use; the last two hold its sandbox
    (:mod:`ratchet.sandbox`): processes and threads at once, and its volume's size."""

    model_config = ConfigDict(extra="allow")

    time_limit_s: float = Field(gt=0)
    memory_limit_mb: int = Field(gt=0)
    max_processes: int = Field(default=DEFAULT_MAX_PROCESSES, gt=0)
    max_disk_mb: int = Field(default=DEFAULT_DISK_MB, gt=0)


class Gates(BaseModel):
    model_config = ConfigDict(extra="allow")

    min_heldout_accuracy: float = Field(ge=0, le=1)
    min_dev_accuracy: float = Field(ge=0, le=1)
    max_p95_latency_ms: float = Field(gt=0)
    max_error_rate: float = Field(ge=0, le=1)
    # For a task with out-of-scope rows (:mod:`ratchet.ci.out_of_scope`); absent: not gated.
    min_in_scope_accuracy: float | None = Field(default=None, ge=0, le=1)
    min_oos_recall: float | None = Field(default=None, ge=0, le=1)
    min_oos_precision: float | None = Field(default=None, ge=0, le=1)


class Exploration(BaseModel):
    """What exploring the Runner's strategy arms may cost the users it serves.

    An Architect release measures every arm on dev and sets its prior to that
    evidence; an arm more than ``max_retire_gap`` under the best on dev is
    retired; at most ``max_explore_share`` of new conversations explore; and the
    full tier fails a release whose served held-out accuracy is expected to fall
    more than ``max_cost`` under its best arm's (the arms' shares of the served
    conversations times their held-out shortfall). Each may only be lowered.
    """

    model_config = ConfigDict(extra="allow")

    max_explore_share: float = Field(default=0.1, ge=0, le=1)
    max_retire_gap: float = Field(default=0.02, ge=0, le=1)
    max_cost: float = Field(default=0.003, ge=0, le=1)


class Budgets(BaseModel):
    model_config = ConfigDict(extra="allow")

    schema_version: int = 1
    tiers: dict[str, TierLimits]
    budgets: Gates
    noise_margin: float = Field(ge=0, le=1)
    exploration: Exploration = Exploration()
    rollout: RolloutPolicy = Field(default_factory=RolloutPolicy)  # how a release reaches traffic

    def limits(self, tier: str) -> TierLimits:
        return self.tiers[tier]


def parse_budgets(raw: bytes | str, source: str = str(BUDGETS_PATH)) -> Budgets:
    """Budgets from the file's bytes; CorruptDocumentError saying what is wrong."""
    try:
        document: Any = json.loads(raw)
        budgets = Budgets.model_validate(document)
    except (ValueError, ValidationError) as exc:
        first = str(exc).splitlines()
        raise CorruptDocumentError(f"{source} is not a valid budgets document: {first}") from None
    missing = [tier for tier in TIERS if tier not in budgets.tiers]
    if missing:
        raise CorruptDocumentError(f"{source} has no limits for tier(s) {', '.join(missing)}")
    return budgets


def load_budgets(code_root: Path) -> Budgets:
    path = code_root / BUDGETS_PATH
    try:
        return parse_budgets(path.read_bytes(), str(path))
    except OSError as exc:
        raise CorruptDocumentError(f"cannot read {path}: {exc}") from None


def at_least(name: str, value: float | None, minimum: float) -> list[str]:
    """A reason if ``value`` is missing or below ``minimum`` (empty list: the gate holds)."""
    if value is None:
        return [f"{name} was not measured"]
    return [] if value >= minimum else [f"{name} {value:.4f} is below the budget {minimum:.4f}"]


def at_most(name: str, value: float | None, maximum: float) -> list[str]:
    if value is None:
        return [f"{name} was not measured"]
    return [] if value <= maximum else [f"{name} {value:.4f} is above the budget {maximum:.4f}"]
