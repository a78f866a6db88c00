"""``preference``: pairwise comparisons of reply variants, fitted into Bradley-Terry strengths."""

from __future__ import annotations

from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from ratchet.sessions import SessionStore
from ratchet.state import StateDocument, StateManager

from ..algorithms.preferences import Comparison, apply_strengths, fit_strengths
from ..context import TunerContext


class PreferenceResult(BaseModel):
    duplicate: bool = Field(description="The idempotency key was seen before: counted once.")
    intent: str
    comparisons: int = Field(description="Comparisons recorded for this intent.")
    strengths: dict[str, float] = Field(description="Bradley-Terry log-strength per reply id.")
    suggested: str = Field(description="The reply the Runner now suggests for this intent.")
    staging_revision: int


def refit(
    document: StateDocument, intent: str, pairs: list[tuple[str, str]]
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """``document`` with ``intent``'s reply strengths fitted to ``pairs`` (winner, loser)."""
    replies = document.data["replies"]
    known = [reply["id"] for reply in replies[intent]]
    comparisons = [Comparison(w, lo) for w, lo in pairs if w in known and lo in known]
    fitted = fit_strengths(comparisons, known).strengths
    updated = apply_strengths(replies, intent, fitted)
    new = {name: [r.model_dump() for r in rs] for name, rs in updated.items()}
    return {**document.data, "replies": new}, document.tuning


class PreferenceTool:
    def __init__(self, manager: StateManager, sessions: SessionStore, labels: frozenset[str]):
        self.manager = manager
        self.sessions = sessions
        self.labels = labels

    async def preference(
        self, intent: str, winner: str, loser: str, idempotency_key: str | None = None
    ) -> PreferenceResult:
        staging = await anyio.to_thread.run_sync(self.manager.read_staging)
        variants = staging.data.get("replies", {}).get(intent)
        if intent not in self.labels or not variants:
            raise ToolError(f"unknown intent {intent!r}: use an intent that has reply variants")
        ids = [reply["id"] for reply in variants]
        for name, reply_id in (("winner", winner), ("loser", loser)):
            if reply_id not in ids:
                raise ToolError(f"{name} {reply_id!r} is not a reply of {intent}: one of {ids}")
        if winner == loser:
            raise ToolError("winner and loser must be different replies")
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= 200:
            raise ToolError("idempotency_key must have 1-200 characters")
        return await anyio.to_thread.run_sync(
            self.record_and_fit, intent, winner, loser, idempotency_key
        )

    def record_and_fit(
        self, intent: str, winner: str, loser: str, idempotency_key: str | None
    ) -> PreferenceResult:
        """Blocking: store the comparison, refit the intent's strengths in staging."""
        stored = self.sessions.record_preference(intent, winner, loser, idempotency_key)
        pairs = self.sessions.preferences(intent)
        written = self.manager.update_staging_document(
            lambda document: refit(document, intent, pairs), actor="tuner"
        )
        final = {r["id"]: float(r["strength"]) for r in written.data["replies"][intent]}
        return PreferenceResult(
            duplicate=stored is None,
            intent=intent,
            comparisons=len(pairs),
            strengths=final,
            suggested=max(final, key=lambda reply_id: final[reply_id]),
            staging_revision=written.revision,
        )


def register(server: MCPServer, ctx: TunerContext) -> None:
    tool = PreferenceTool(ctx.manager, ctx.sessions, ctx.labels)
    server.add_tool(
        tool.preference,
        description=(
            "Record that reply `winner` was preferred to reply `loser` for `intent`; the "
            "intent's reply strengths are refitted (Bradley-Terry) from all its comparisons."
        ),
    )
