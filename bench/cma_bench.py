"""CMA-ES section of the Tuner bench (filled in with the study's tools)."""

from __future__ import annotations

from typing import Any


async def cma_section(tuner: str, quick: bool) -> dict[str, Any]:
    raise NotImplementedError("CMA-ES tools are not wired yet")
