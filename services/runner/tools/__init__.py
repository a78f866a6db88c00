"""The Runner's MCP surface, one module per tool or resource; each registers its own."""
