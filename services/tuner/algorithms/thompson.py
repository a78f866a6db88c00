"""Thompson sampling over Bernoulli arms with Beta posteriors.

The same rule the Runner applies to the strategy arms declared in state,
here for bandits any client declares (and for the benchmark against an
in-process sampler): draw from each arm's posterior, play the best draw.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass


class BanditError(ValueError):
    """A bandit call that cannot be applied (unknown arm, reward out of range)."""


@dataclass(frozen=True, slots=True)
class Posterior:
    alpha: float = 1.0
    beta: float = 1.0

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    def updated(self, reward: float) -> Posterior:
        """Fractional rewards count as that share of a success (a Bernoulli in expectation)."""
        if not (math.isfinite(reward) and 0.0 <= reward <= 1.0):
            raise BanditError(f"reward {reward} is out of range: use 0 to 1")
        return Posterior(self.alpha + reward, self.beta + 1.0 - reward)


def draw(arms: Mapping[str, Posterior], rng: random.Random) -> str:
    """The arm whose posterior draw is highest."""
    if not arms:
        raise BanditError("the bandit has no arms")
    samples = {name: rng.betavariate(p.alpha, p.beta) for name, p in arms.items()}
    return max(samples, key=lambda name: samples[name])


def pseudo_regret(means: list[float], plays: list[int]) -> float:
    """Sum over plays of (best mean - played arm's mean): regret without reward noise."""
    best = max(means)
    return sum(best - means[arm] for arm in plays)


def simulate(means: list[float], horizon: int, seed: int) -> float:
    """In-process Thompson sampling on a Bernoulli bandit; its pseudo-regret (the baseline)."""
    rng = random.Random(seed)
    arms = {str(i): Posterior() for i in range(len(means))}
    plays: list[int] = []
    for _ in range(horizon):
        arm = draw(arms, rng)
        reward = 1.0 if rng.random() < means[int(arm)] else 0.0
        arms[arm] = arms[arm].updated(reward)
        plays.append(int(arm))
    return pseudo_regret(means, plays)
