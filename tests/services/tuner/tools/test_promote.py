"""``promote`` called directly: a refusal carries its reason, a failure is a tool error."""

from __future__ import annotations

import pytest
from mcp.server.mcpserver.exceptions import ToolError

from ratchet.errors import RatchetError
from services.tuner.context import TunerContext
from services.tuner.promotion import Promoter, PromoteResult, ReleaseNote
from services.tuner.tools.promote import PromoteTool

pytestmark = pytest.mark.anyio


async def test_an_unchanged_staging_is_not_released_and_the_reason_says_so(
    context: TunerContext,
) -> None:
    result = await PromoteTool(context.promoter).promote()
    assert (result.promoted, result.version) == (False, "v0.1.0")
    assert result.reason.startswith("nothing to release")


class Failing(Promoter):
    def __init__(self) -> None:  # no stores: promote fails before it would use them
        pass

    def promote(self, note: ReleaseNote | None = None) -> PromoteResult:
        raise RatchetError("the release store is unreachable")


async def test_a_failed_promotion_is_a_tool_error_with_the_cause() -> None:
    with pytest.raises(ToolError, match="promote failed: the release store is unreachable"):
        await PromoteTool(Failing()).promote()
