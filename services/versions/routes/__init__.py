"""The Versions API's routes, one module per resource."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..registry import VersionRegistry


def _registry(request: Request) -> VersionRegistry:
    registry: VersionRegistry = request.app.state.registry
    return registry


Registry = Annotated[VersionRegistry, Depends(_registry)]
