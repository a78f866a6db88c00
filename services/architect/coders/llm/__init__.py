"""The ``llm`` coder: an OpenAI-compatible chat endpoint proposes SEARCH/REPLACE edits.

:mod:`.client` talks to the endpoint, :mod:`.prompt` builds the question,
:mod:`.edits` parses and applies the answer, :mod:`.spend` keeps the cost
ledger and its caps, :mod:`.coder` runs the conversation.
"""

from .coder import LlmCoder
from .edits import EditBlock, EditError, apply_edits, parse_edits

__all__ = ["EditBlock", "EditError", "LlmCoder", "apply_edits", "parse_edits"]
