"""Tuner: MCP server turning structured feedback into tuned state (Architect-editable)."""
