"""Telemetry: OpenTelemetry set-up and trace-context propagation."""

from ratchet.telemetry.propagation import (
    CONVERSATION_ID,
    extract_headers,
    extract_mcp_meta,
    inject_headers,
    inject_mcp_meta,
)
from ratchet.telemetry.setup import Telemetry, setup_telemetry

__all__ = [
    "CONVERSATION_ID",
    "Telemetry",
    "extract_headers",
    "extract_mcp_meta",
    "inject_headers",
    "inject_mcp_meta",
    "setup_telemetry",
]
