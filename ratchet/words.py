"""The words of a message as override rules see them.

A rule in the agent's state (``rules[].all_of``) fires when all its words
appear in a message. The Runner applies rules and the Tuner mines them from
corrected turns: two processes that must split text the same way, so the
split is defined once, in the core, rather than in either service.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> set[str]:
    """The lower-cased words of ``text``: what a rule's ``all_of`` is matched against."""
    return set(_WORD.findall(text.lower()))
