"""Carrying trace context across HTTP (``traceparent``) and MCP (``params._meta``).

W3C trace context is the format on both: MCP clients put the same
``traceparent``/``tracestate`` keys in a request's ``_meta`` that HTTP puts in
headers, so one propagator serves both.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_propagator = TraceContextTextMapPropagator()


def inject_headers(headers: MutableMapping[str, str] | None = None) -> MutableMapping[str, str]:
    """Add ``traceparent`` (and ``tracestate``) for the current span to HTTP headers."""
    carrier: MutableMapping[str, str] = {} if headers is None else headers
    _propagator.inject(carrier)
    return carrier


def extract_headers(headers: Mapping[str, str]) -> otel_context.Context:
    """The context an incoming HTTP request carries (headers matched case-insensitively)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    return _propagator.extract(lowered)


def inject_mcp_meta(meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """Add the current trace context to an MCP request's ``_meta``."""
    carrier: dict[str, Any] = {} if meta is None else meta
    _propagator.inject(carrier)
    return carrier


def extract_mcp_meta(meta: Mapping[str, Any] | None) -> otel_context.Context:
    """The context an MCP request's ``_meta`` carries (empty context when none)."""
    if not meta:
        return otel_context.Context()
    return _propagator.extract({k: v for k, v in meta.items() if isinstance(v, str)})
