"""The Versions API's own errors; :mod:`ratchet.rest` converts them at the edge."""

from __future__ import annotations

from ratchet.errors import RatchetError
from ratchet.rest import InvalidRequest

__all__ = ["STATUSES", "InvalidRequest", "Unavailable"]


class Unavailable(RatchetError):
    """The registry cannot answer yet (no workspace): 503."""


STATUSES = ((Unavailable, 503),)
