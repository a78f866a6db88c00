"""``mine_rules``: override rules from corrected mistakes, kept only if dev accuracy rises."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from ratchet import datasets
from ratchet.errors import RatchetError
from ratchet.sessions import SessionStore
from ratchet.state import StateDocument, StateManager

from ..algorithms.rules import mine_rules, select_rules
from ..context import TunerContext
from ..scoring import DevScorer


class MinedRules(BaseModel):
    mistakes: int = Field(description="Corrected mistakes the candidates were mined from.")
    candidates: int
    kept: list[str] = Field(description="Ids of the rules added to staging.")
    dev_accuracy_before: float
    dev_accuracy_after: float
    evaluations: int
    staging_revision: int


def with_rules(
    document: StateDocument, kept: list[dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
    """``document`` with the ``kept`` rules it lacks appended; None (no write) if none kept."""
    if not kept:
        return None
    present = {rule["id"] for rule in document.data.get("rules", [])}
    new = [rule for rule in kept if rule["id"] not in present]
    rules = [*document.data.get("rules", []), *new]
    return {**document.data, "rules": rules}, document.tuning


class RuleMiner:
    def __init__(self, manager: StateManager, sessions: SessionStore, scorer: DevScorer) -> None:
        self.manager = manager
        self.sessions = sessions
        self.scorer = scorer

    # Named ``mine_rules_tool``, registered as ``mine_rules``: the method's name is the
    # title of the tool's input schema (``mine_rules_toolArguments``), which clients see.
    async def mine_rules_tool(
        self,
        min_support: Annotated[int, Field(ge=1, le=1000)] = 3,
        min_confidence: Annotated[float, Field(gt=0, le=1)] = 0.9,
        max_rules: Annotated[int, Field(ge=1, le=100)] = 10,
        max_tries: Annotated[int, Field(ge=1, le=500)] = 30,
    ) -> MinedRules:
        try:
            return await anyio.to_thread.run_sync(
                self.run, min_support, min_confidence, max_rules, max_tries
            )
        except RatchetError as exc:
            raise ToolError(f"rule mining failed: {exc}") from None

    def run(
        self, min_support: int, min_confidence: float, max_rules: int, max_tries: int
    ) -> MinedRules:
        """Blocking: mine candidates, keep those that raise dev accuracy, add them to staging."""
        mistakes = self.sessions.corrected_mistakes()
        corpus = datasets.load(self.scorer.local_root, "train")
        candidates = mine_rules(mistakes, corpus, min_support, min_confidence)
        staging = self.manager.read_staging()
        with self.scorer.session() as score:
            selection = select_rules(
                candidates,
                staging.data.get("rules", []),
                lambda rules: score({**staging.data, "rules": rules}),
                max_rules=max_rules,
                max_tries=max_tries,
            )
        kept = [c.as_rule() for c in selection.kept]
        written = self.manager.update_staging_document(
            lambda document: with_rules(document, kept), actor="tuner"
        )
        return MinedRules(
            mistakes=len(mistakes),
            candidates=len(candidates),
            kept=[c.id for c in selection.kept],
            dev_accuracy_before=round(selection.baseline, 4),
            dev_accuracy_after=round(selection.score, 4),
            evaluations=selection.evaluations,
            staging_revision=written.revision,
        )


def register(server: MCPServer, ctx: TunerContext) -> None:
    miner = RuleMiner(ctx.manager, ctx.sessions, ctx.scorer)
    server.add_tool(
        miner.mine_rules_tool,
        name="mine_rules",
        description=(
            "Mine override rules (words -> intent) from turns corrected to another intent; "
            "a candidate needs min_support corrections and min_confidence on the train split, "
            "and is added to staging only if it raises dev-split accuracy."
        ),
    )
