"""The bandit tools called directly: declare, draw, reward, and the errors a client sees."""

from __future__ import annotations

import random

import pytest
from mcp.server.mcpserver.exceptions import ToolError

from services.tuner.context import TunerContext
from services.tuner.tools.bandits import BanditTools

pytestmark = pytest.mark.anyio


def tools(context: TunerContext) -> BanditTools:
    return BanditTools(context.objects, random.Random(0))


async def test_rewards_move_the_rewarded_arms_posterior_and_are_counted(
    context: TunerContext,
) -> None:
    bandits = tools(context)
    created = await bandits.bandit_create("ab", ["a", "b"])
    assert created.rewards == 0 and created.arm is None
    await bandits.bandit_reward("ab", "a", 1.0)
    result = await bandits.bandit_reward("ab", "b", 0.0, draw_next=True)
    assert result.rewards == 2 and result.arm in {"a", "b"}
    assert (result.arms["a"].alpha, result.arms["a"].beta) == (2.0, 1.0)
    assert (result.arms["b"].alpha, result.arms["b"].beta) == (1.0, 2.0)
    assert (await bandits.bandit_draw("ab")).arm in {"a", "b"}


async def test_declaring_the_same_arms_again_keeps_the_posteriors(context: TunerContext) -> None:
    bandits = tools(context)
    await bandits.bandit_create("ab", ["a", "b"])
    await bandits.bandit_reward("ab", "a", 1.0)
    again = await bandits.bandit_create("ab", ["b", "a"])
    assert again.rewards == 1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda t: t.bandit_create("bad name", ["a", "b"]), "malformed bandit name"),
        (lambda t: t.bandit_create("ab", ["a", "a"]), "arms must be distinct names"),
        (lambda t: t.bandit_create("ab", ["a", "c"]), "exists with arms"),
        (lambda t: t.bandit_draw("none"), "no bandit 'none'"),
        (lambda t: t.bandit_reward("ab", "z", 1.0), "has no arm 'z'"),
    ],
)
async def test_bad_calls_are_tool_errors_saying_what_to_fix(
    context: TunerContext, call: object, message: str
) -> None:
    bandits = tools(context)
    await bandits.bandit_create("ab", ["a", "b"])
    with pytest.raises(ToolError, match=message):
        await call(bandits)  # type: ignore[operator]
