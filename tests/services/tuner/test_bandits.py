"""Client-declared Thompson bandits: declared, drawn, rewarded exactly once under concurrency."""

from __future__ import annotations

import anyio
import pytest
from mcp import Client

from ratchet.sessions import SessionStore
from ratchet.state import open_state_manager
from services.tuner.algorithms.thompson import Posterior, pseudo_regret, simulate
from services.tuner.app import build_server
from services.tuner.settings import TunerSettings
from tests.helpers.mcp import call

pytestmark = pytest.mark.anyio


async def test_bandit_rewards_from_concurrent_clients_all_land(
    tuner_settings: TunerSettings, sessions: SessionStore
) -> None:
    server = build_server(tuner_settings, open_state_manager(tuner_settings), sessions)
    async with Client(server) as c:
        created = await call(c, "bandit_create", bandit="greeting", arms=["short", "long"])
        again = await call(c, "bandit_create", bandit="greeting", arms=["long", "short"])
        clash = await c.call_tool("bandit_create", {"bandit": "greeting", "arms": ["a", "b"]})

        async def player(index: int) -> None:
            for round_ in range(25):
                arm = "short" if (index + round_) % 2 else "long"
                await call(c, "bandit_reward", bandit="greeting", arm=arm, reward=1.0)

        async with anyio.create_task_group() as group:
            for index in range(4):
                group.start_soon(player, index)
        drawn = await call(c, "bandit_draw", bandit="greeting")
        unknown_arm = await c.call_tool(
            "bandit_reward", {"bandit": "greeting", "arm": "x", "reward": 1}
        )
        out_of_range = await c.call_tool(
            "bandit_reward", {"bandit": "greeting", "arm": "long", "reward": 2}
        )
        missing = await c.call_tool("bandit_draw", {"bandit": "nope"})
        malformed = await c.call_tool("bandit_draw", {"bandit": "../etc"})
    assert created["rewards"] == 0 and again["arms"] == created["arms"]
    assert clash.is_error and "exists with arms" in str(clash.content)
    assert drawn["rewards"] == 100 and drawn["arm"] in {"short", "long"}
    assert drawn["arms"]["short"]["alpha"] == drawn["arms"]["long"]["alpha"] == 51.0
    assert unknown_arm.is_error and "has no arm 'x'" in str(unknown_arm.content)
    assert out_of_range.is_error and "out of range" in str(out_of_range.content)
    assert missing.is_error and "bandit_create" in str(missing.content)
    assert malformed.is_error and "malformed bandit name" in str(malformed.content)


def test_in_process_thompson_finds_the_best_arm() -> None:
    means = [0.05 + 0.05 * i for i in range(10)]
    regret = simulate(means, horizon=3000, seed=1)
    assert 0 < regret < 3000 * 0.225 / 3  # a third of uniform play's 0.225 per round
    assert pseudo_regret([0.1, 0.5], [0, 1, 1]) == pytest.approx(0.4)
    assert Posterior().updated(0.25) == Posterior(1.25, 1.75)
