"""Which side of a rollout a new conversation is served by: a hash of its id.

Every Runner replica, in any process and under any Python version, must put a
conversation on the same side, so the bucket is a cryptographic hash of the
id (never ``hash()``, which is salted per process). The buckets are uniform in
[0, 1), so a weight ``w`` sends a share ``w`` of new conversations to the
canary; raising the weight only adds conversations to the canary's side.
"""

from __future__ import annotations

import hashlib

_BITS = 53  # what a float holds exactly: (2**64 - 1) / 2**64 would round up to 1.0
_SCALE = float(1 << _BITS)


def bucket(conversation_id: str) -> float:
    """The conversation's place in [0, 1): the first 8 bytes of sha256(id) as a fraction
    of 2**64, truncated to the 53 bits a float holds exactly (so never 1.0)."""
    digest = hashlib.sha256(conversation_id.encode()).digest()
    return (int.from_bytes(digest[:8], "big") >> (64 - _BITS)) / _SCALE


def takes_canary(conversation_id: str, weight: float) -> bool:
    """Whether a new conversation goes to the canary at ``weight`` (0: never, 1: always)."""
    return bucket(conversation_id) < weight
