"""The Tuner's MCP tools, one module per tool or algorithm; each registers its own tools."""
