"""Telemetry: OpenTelemetry set-up, trace-context propagation, shared span attributes."""

from ratchet.telemetry.attributes import (
    CONVERSATION_ID,
    STATE_REVISION,
    TURN,
    VERSION,
    annotate_turn,
)
from ratchet.telemetry.propagation import (
    extract_headers,
    extract_mcp_meta,
    inject_headers,
    inject_mcp_meta,
)
from ratchet.telemetry.setup import Telemetry, setup_telemetry

__all__ = [
    "CONVERSATION_ID",
    "STATE_REVISION",
    "TURN",
    "VERSION",
    "Telemetry",
    "annotate_turn",
    "extract_headers",
    "extract_mcp_meta",
    "inject_headers",
    "inject_mcp_meta",
    "setup_telemetry",
]
