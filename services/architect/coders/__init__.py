"""Coders behind one interface (:mod:`.base`); the registry picks one per job."""

from ratchet.config import ArchitectSettings

from .base import Coder, CoderError, CodingRequest, Proposal
from .patch import PatchCoder, check_diff

CODERS: dict[str, type[Coder]] = {"patch": PatchCoder}


def coder_for(request: CodingRequest, settings: ArchitectSettings) -> Coder:
    """A diff always goes to the patch coder; anything else to the configured one."""
    name = "patch" if request.patch else settings.coder
    return CODERS[name]()


__all__ = [
    "CODERS",
    "Coder",
    "CoderError",
    "CodingRequest",
    "PatchCoder",
    "Proposal",
    "check_diff",
    "coder_for",
]
