"""Pure tuning algorithms: no I/O, no MCP; the Tuner feeds them data and applies results."""
