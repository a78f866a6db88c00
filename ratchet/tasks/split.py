"""Which training rows are dev: a rule in the static core, independent of row order.

A row is **dev** when the SHA-256 of its text falls in the first tenth of the
hash space, so no candidate can move examples between splits and the same
text is always on the same side, whatever file it came from.
"""

from __future__ import annotations

import hashlib
from typing import Literal

Split = Literal["train", "dev", "heldout"]
SPLITS: tuple[Split, ...] = ("train", "dev", "heldout")
DEV_SHARE = 10  # one example in DEV_SHARE goes to dev


def text_digest(text: str) -> bytes:
    """SHA-256 of a text: the order-free key of every deterministic split and draw."""
    return hashlib.sha256(text.encode()).digest()


def is_dev(text: str) -> bool:
    return int.from_bytes(text_digest(text)[:8], "big") % DEV_SHARE == 0
