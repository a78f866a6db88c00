"""Thompson-sampling bandits any client declares: ``bandit_create``, ``bandit_draw``,
``bandit_reward``.

The strategy arms of the agent live in state and learn from ``feedback``
(rewards joined by conversation); these tools serve other bandits, e.g. a
client choosing between its own variants. Posteriors are an object in the
object store under compare-and-swap, so every reward lands once, across
processes, and a restart loses nothing.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from typing import Annotated

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from ratchet.errors import NotFoundError
from ratchet.objects import ObjectStore

from ..algorithms.thompson import BanditError, Posterior, draw
from ..context import TunerContext

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
Arms = dict[str, Posterior]


class ArmPosterior(BaseModel):
    alpha: float
    beta: float
    mean: float


class BanditResult(BaseModel):
    bandit: str
    arm: str | None = Field(description="The arm to play next (Thompson draw), if asked for.")
    arms: dict[str, ArmPosterior]
    rewards: int = Field(description="Rewards applied to this bandit so far.")


def _key(bandit: str) -> str:
    if not NAME.match(bandit):
        raise ToolError(f"malformed bandit name {bandit!r}: letters, digits, _ . - (max 64)")
    return f"tuner/bandits/{bandit}.json"


def _decode(raw: bytes) -> tuple[Arms, int]:
    body = json.loads(raw)
    return {n: Posterior(a["alpha"], a["beta"]) for n, a in body["arms"].items()}, body["rewards"]


def _encode(arms: Arms, rewards: int) -> bytes:
    body = {"arms": {n: {"alpha": p.alpha, "beta": p.beta} for n, p in arms.items()}}
    return json.dumps({**body, "rewards": rewards}, sort_keys=True).encode()


def _result(bandit: str, arms: Arms, rewards: int, arm: str | None) -> BanditResult:
    shown = {
        n: ArmPosterior(alpha=p.alpha, beta=p.beta, mean=round(p.mean, 6)) for n, p in arms.items()
    }
    return BanditResult(bandit=bandit, arm=arm, arms=shown, rewards=rewards)


class BanditTools:
    """The bandit tools over one object store; a draw uses ``rng``."""

    def __init__(self, objects: ObjectStore, rng: random.Random | None = None) -> None:
        self.store = objects
        self.rng = rng or random.SystemRandom()

    def load(self, bandit: str) -> tuple[Arms, int]:
        try:
            return _decode(self.store.get(_key(bandit)).data)
        except NotFoundError:
            raise ToolError(f"no bandit {bandit!r}: create it with bandit_create") from None

    async def bandit_create(
        self, bandit: str, arms: Annotated[list[str], Field(min_length=2, max_length=1000)]
    ) -> BanditResult:
        key = _key(bandit)
        if len(set(arms)) != len(arms) or not all(NAME.match(a) for a in arms):
            raise ToolError("arms must be distinct names: letters, digits, _ . - (max 64)")

        def create(current: bytes | None) -> bytes:
            if current is not None:
                existing, _ = _decode(current)
                if sorted(existing) != sorted(arms):
                    raise BanditError(f"bandit {bandit!r} exists with arms {sorted(existing)}")
                return current
            return _encode({name: Posterior() for name in arms}, 0)

        written = await self._update(key, create)
        return _result(bandit, *_decode(written), arm=None)

    async def bandit_draw(self, bandit: str) -> BanditResult:
        arms, rewards = await anyio.to_thread.run_sync(self.load, bandit)
        return _result(bandit, arms, rewards, draw(arms, self.rng))

    async def bandit_reward(
        self, bandit: str, arm: str, reward: float, draw_next: bool = False
    ) -> BanditResult:
        key = _key(bandit)

        def apply(current: bytes | None) -> bytes:
            if current is None:
                raise BanditError(f"no bandit {bandit!r}: create it with bandit_create")
            arms, rewards = _decode(current)
            if arm not in arms:
                raise BanditError(f"bandit {bandit!r} has no arm {arm!r}: one of {sorted(arms)}")
            return _encode({**arms, arm: arms[arm].updated(reward)}, rewards + 1)

        arms, rewards = _decode(await self._update(key, apply))
        return _result(bandit, arms, rewards, draw(arms, self.rng) if draw_next else None)

    async def _update(self, key: str, change: Callable[[bytes | None], bytes]) -> bytes:
        """``change`` applied to the stored bandit under compare-and-swap, off the loop."""
        try:
            return await anyio.to_thread.run_sync(lambda: self.store.update(key, change))
        except BanditError as exc:
            raise ToolError(str(exc)) from None


def register(server: MCPServer, ctx: TunerContext) -> None:
    tools = BanditTools(ctx.objects)
    server.add_tool(
        tools.bandit_create,
        description="Declare a bandit and its arms (idempotent for the same arms).",
    )
    server.add_tool(
        tools.bandit_draw, description="Thompson draw: the arm of `bandit` to play next."
    )
    server.add_tool(
        tools.bandit_reward,
        description=(
            "Apply a reward in [0, 1] to an arm of `bandit`; with draw_next, also return the "
            "arm to play next (one call per round)."
        ),
    )
