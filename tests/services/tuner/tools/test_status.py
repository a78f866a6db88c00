"""``status`` called directly: counts, the active version and the arms' posteriors."""

from __future__ import annotations

import pytest

from ratchet.sessions import SessionStore
from services.tuner.context import TunerContext
from services.tuner.tools.feedback import FeedbackTool
from services.tuner.tools.status import StatusTool
from tests.helpers.turns import answered

pytestmark = pytest.mark.anyio


def tool(context: TunerContext) -> StatusTool:
    return StatusTool(
        context.manager, context.sessions, context.intake, context.auto, context.release_tuner
    )


async def test_status_of_a_fresh_home_names_the_active_version_and_no_feedback(
    context: TunerContext,
) -> None:
    status = await tool(context).status()
    assert (status.active_version, status.pinned) == ("v0.1.0", False)
    assert (status.feedback_total, status.feedback_applied, status.feedback_pending) == (0, 0, 0)
    assert status.last_auto_promotion is None
    for arm in status.arms.values():
        assert arm.mean == pytest.approx(arm.alpha / (arm.alpha + arm.beta))


async def test_status_counts_applied_feedback_and_moves_the_arm_it_rewarded(
    context: TunerContext, sessions: SessionStore
) -> None:
    before = tool(context).read()
    answered(sessions, "c1", arm="blend")
    await FeedbackTool(context.intake, context.applier).feedback("c1", reward=1.0, wait=True)
    after = tool(context).read()
    assert (after.feedback_total, after.feedback_applied, after.feedback_pending) == (1, 1, 0)
    assert after.arms["blend"].alpha == before.arms["blend"].alpha + 1
    assert after.staging_revision == before.staging_revision + 1
