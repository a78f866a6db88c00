"""``mine_rules``: override rules from corrected mistakes, kept only if dev accuracy rises."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from ratchet import datasets
from ratchet.errors import RatchetError
from ratchet.state import StateDocument

from ..algorithms.rules import mine_rules, select_rules
from ..context import TunerContext


class MinedRules(BaseModel):
    mistakes: int = Field(description="Corrected mistakes the candidates were mined from.")
    candidates: int
    kept: list[str] = Field(description="Ids of the rules added to staging.")
    dev_accuracy_before: float
    dev_accuracy_after: float
    evaluations: int
    staging_revision: int


def register(server: MCPServer, ctx: TunerContext) -> None:
    @server.tool(
        name="mine_rules",
        description=(
            "Mine override rules (words -> intent) from turns corrected to another intent; "
            "a candidate needs min_support corrections and min_confidence on the train split, "
            "and is added to staging only if it raises dev-split accuracy."
        ),
    )
    async def mine_rules_tool(
        min_support: Annotated[int, Field(ge=1, le=1000)] = 3,
        min_confidence: Annotated[float, Field(gt=0, le=1)] = 0.9,
        max_rules: Annotated[int, Field(ge=1, le=100)] = 10,
        max_tries: Annotated[int, Field(ge=1, le=500)] = 30,
    ) -> MinedRules:
        def run() -> MinedRules:
            mistakes = ctx.sessions.corrected_mistakes()
            corpus = datasets.load(ctx.scorer.local_root, "train")
            candidates = mine_rules(mistakes, corpus, min_support, min_confidence)
            staging = ctx.manager.read_staging()
            with ctx.scorer.session() as score:
                selection = select_rules(
                    candidates,
                    staging.data.get("rules", []),
                    lambda rules: score({**staging.data, "rules": rules}),
                    max_rules=max_rules,
                    max_tries=max_tries,
                )
            kept = [c.as_rule() for c in selection.kept]

            def add(document: StateDocument) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
                if not kept:
                    return None
                present = {rule["id"] for rule in document.data.get("rules", [])}
                new = [rule for rule in kept if rule["id"] not in present]
                rules = [*document.data.get("rules", []), *new]
                return {**document.data, "rules": rules}, document.tuning

            written = ctx.manager.update_staging_document(add, actor="tuner")
            return MinedRules(
                mistakes=len(mistakes),
                candidates=len(candidates),
                kept=[c.id for c in selection.kept],
                dev_accuracy_before=round(selection.baseline, 4),
                dev_accuracy_after=round(selection.score, 4),
                evaluations=selection.evaluations,
                staging_revision=written.revision,
            )

        try:
            return await anyio.to_thread.run_sync(run)
        except RatchetError as exc:
            raise ToolError(f"rule mining failed: {exc}") from None
