"""Coders behind one interface (:mod:`.base`); the registry picks one per job."""

from ..settings import ArchitectSettings
from .base import Coder, CoderError, CodingRequest, Proposal
from .command import CommandCoder
from .llm import LlmCoder
from .patch import PatchCoder, check_diff
from .template import TemplateCoder

CODERS: dict[str, type[Coder]] = {
    "patch": PatchCoder,
    "template": TemplateCoder,
    "llm": LlmCoder,
    "command": CommandCoder,
}


def coder_for(request: CodingRequest, settings: ArchitectSettings) -> Coder:
    """A diff always goes to the patch coder; anything else to the configured one."""
    name = "patch" if request.patch else settings.coder
    return CODERS[name].from_settings(settings)


__all__ = [
    "CODERS",
    "Coder",
    "CoderError",
    "CodingRequest",
    "CommandCoder",
    "LlmCoder",
    "PatchCoder",
    "Proposal",
    "TemplateCoder",
    "check_diff",
    "coder_for",
]
