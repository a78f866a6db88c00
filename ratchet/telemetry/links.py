"""Span links: the Tuner's span for feedback on a turn names the route call's span.

The two calls happen in different traces (a customer's message, then, maybe
much later, the feedback on its answer), so a parent-child relation would be
false; a link says "this span is about that one" and lets a trace store join
them. The route call's ids come from the Runner's audit record of the turn.
"""

from __future__ import annotations

from opentelemetry.trace import Link, Span, SpanContext, TraceFlags

from ratchet.telemetry.attributes import CONVERSATION_ID, TURN

LINK_KIND = "ratchet.link"
"""The link attribute saying what the linked span is."""
ROUTE_CALL = "route_call"
"""The value of :data:`LINK_KIND` on a link to the Runner's span for a ``route`` call."""


def span_context(trace_id: str, span_id: str) -> SpanContext | None:
    """The remote span context named by hex ids; None when either is malformed or zero."""
    try:
        context = SpanContext(
            trace_id=int(trace_id, 16),
            span_id=int(span_id, 16),
            is_remote=True,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
        )
    except ValueError:
        return None
    return context if context.is_valid and len(trace_id) == 32 and len(span_id) == 16 else None


def route_call_link(
    trace_id: str, span_id: str | None, *, conversation_id: str, turn: int
) -> Link | None:
    """The link to the route call that answered the turn; None without a valid span."""
    context = None if span_id is None else span_context(trace_id, span_id)
    if context is None:
        return None
    return Link(context, {LINK_KIND: ROUTE_CALL, CONVERSATION_ID: conversation_id, TURN: turn})


def add_link(span: Span, link: Link | None) -> None:
    """Add ``link`` to a span still recording (nothing when there is no link)."""
    if link is not None:
        span.add_link(link.context, link.attributes)
