"""Replay: BANKING77 corrections from the train split, through the Runner and the Tuner.

Real processes, official MCP clients. Each round routes a batch of training
messages through the Runner (one conversation each, so the Thompson arm is
drawn per conversation), then sends the correct intent of every answer to
the Tuner as delayed feedback, runs that round's tuning tool, and promotes a
patch. Every release is then scored on the dev split (what tuning may read)
and on the held-out split (reported only; nothing tunes on it).

    python -m bench.tuner_replay [--batch 300] [--clients 4]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

from ratchet import datasets
from ratchet.bootstrap import initialize
from ratchet.builds import BuildStore
from ratchet.ci.agent_process import agent_process
from ratchet.config import CommonSettings
from ratchet.state import open_state_manager
from tests.helpers.mcp import call
from tests.helpers.processes import running

ROOT = Path(__file__).resolve().parents[1]
# What each round does after its feedback; every round ends with `promote`.
ROUNDS: tuple[tuple[str | None, dict[str, Any]], ...] = (
    (None, {}),  # feedback only: the arms' Thompson posteriors
    ("mine_rules", {"max_rules": 10, "max_tries": 40}),
    ("tune_params", {"evaluations": 48}),
)


@dataclass
class Round:
    what: str
    version: str
    online_accuracy: float  # the Runner's answers in this round, as the corrections said
    feedback_applied: int
    greedy_arm: str
    rules: int
    dev: float
    heldout: float


async def _route_and_correct(
    runner: str, tuner: str, batch: list[datasets.Example], clients: int, tag: str
) -> float:
    """Route ``batch``, then correct every answer; return the share the Runner got right."""
    answers: list[tuple[str, str, str]] = []  # conversation, answered, correct

    async def route(index: int) -> None:
        async with Client(runner) as client:
            for position in range(index, len(batch), clients):
                example = batch[position]
                answer = await call(
                    client, "route", text=example.text, conversation_id=f"{tag}-{position}"
                )
                answers.append((answer["conversation_id"], answer["intent"], example.intent))

    async def correct(index: int) -> None:
        async with Client(tuner) as client:
            for conversation, _, intent in answers[index::clients]:
                await call(
                    client,
                    "feedback",
                    conversation_id=conversation,
                    correct_intent=intent,
                    idempotency_key=f"replay-{conversation}",
                )

    for step in (route, correct):
        async with anyio.create_task_group() as group:
            for index in range(clients):
                group.start_soon(step, index)
    return sum(answered == right for _, answered, right in answers) / len(answers)


def _score(home: Path, version: str) -> tuple[dict[str, Any], float, float]:
    """The released state, its dev and held-out accuracy (greedy arm, the release's code)."""
    settings = CommonSettings(home=home, project_root=ROOT)
    manager = open_state_manager(settings)
    document = manager.version_state(version)
    commit = next(p.commit for p in manager.pointer_history() if p.version == version)
    code = BuildStore(settings.workspace_path, home / "builds").ensure(commit or "HEAD")
    scores: list[float] = []
    for split in ("dev", "heldout"):
        examples = datasets.load(ROOT, split)
        with agent_process(code, [e.text for e in examples], "full") as agent:
            intents = agent.route(document)
        right = sum(i == e.intent for i, e in zip(intents, examples, strict=True))
        scores.append(right / len(examples))
    return document.data, scores[0], scores[1]


def _row(what: str, version: str, home: Path, online: float, applied: int) -> Round:
    data, dev, heldout = _score(home, version)
    arms = data["strategy"]["arms"]
    greedy = max(arms, key=lambda a: arms[a]["alpha"] / (arms[a]["alpha"] + arms[a]["beta"]))
    return Round(what, version, online, applied, greedy, len(data["rules"]), dev, heldout)


async def replay(batch_size: int, clients: int, seed: int = 7) -> list[Round]:
    home = Path(tempfile.mkdtemp(prefix="ratchet-replay-")) / "home"
    initialize(CommonSettings(home=home, project_root=ROOT))
    train = list(datasets.load(ROOT, "train"))
    random.Random(seed).shuffle(train)
    env = {"RATCHET_HOME": str(home), "RATCHET_RUNNER_PORT": "0", "RATCHET_TUNER_PORT": "0"}
    rounds = [_row("initial release", "v0.1.0", home, float("nan"), 0)]
    with running("services.runner", env) as runner, running("services.tuner", env) as tuner:
        async with Client(f"{tuner.url}/mcp") as client:
            for number, (tool, arguments) in enumerate(ROUNDS):
                batch = train[number * batch_size : (number + 1) * batch_size]
                online = await _route_and_correct(
                    f"{runner.url}/mcp", f"{tuner.url}/mcp", batch, clients, f"r{number}"
                )
                if tool is not None:
                    await call(client, tool, **arguments)
                promoted = await call(client, "promote")
                if not promoted["promoted"]:
                    raise RuntimeError(f"round {number}: {promoted['reason']}")
                what = f"{len(batch)} corrections" + (f" + {tool}" if tool else "")
                rounds.append(
                    _row(what, promoted["version"], home, online, promoted["feedback_applied"])
                )
    return rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=300, help="corrections per round")
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    rounds = anyio.run(replay, args.batch, args.clients)
    print(
        f"{'version':<8} {'round':<38} {'online':>7} {'fb':>5} {'arm':<9} {'rules':>5} "
        f"{'dev':>7} {'heldout':>8}"
    )
    for r in rounds:
        print(
            f"{r.version:<8} {r.what:<38} {r.online_accuracy:>7.4f} {r.feedback_applied:>5} "
            f"{r.greedy_arm:<9} {r.rules:>5} {r.dev:>7.4f} {r.heldout:>8.4f}"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
