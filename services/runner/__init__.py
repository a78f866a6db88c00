"""Runner: the MCP server that does the agent's work (Architect-editable)."""
