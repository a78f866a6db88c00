"""The full tier (minutes): real processes, the held-out split over MCP, the SLO budgets.

The candidate's Runner and Tuner start as real processes from its code root
(:mod:`ratchet.ci.candidate`). The held-out split, read from the home's vault
(``heldout``; :mod:`ratchet.tasks.heldout`) for the task ``data_root`` serves,
never from the candidate (no tree it runs from holds it), is sharded over
concurrent official MCP clients calling ``route``; each call is timed at the
client. The tier measures held-out accuracy (a failed call counts as wrong),
the p95 latency and the error rate, and records both services' tool lists for
the release's bump.

The state is served as users get it: each held-out message is a new
conversation, and the Runner picks its arm as it does for any client
(:mod:`ratchet.ci.exploration`), so ``heldout_accuracy`` is the accuracy of
the served policy (an out-of-scope row is right when answered out of scope;
for a task with such rows the tier also reports held-out in-scope accuracy and
out-of-scope recall and precision, :mod:`ratchet.ci.out_of_scope`). After the
Runner stops, the agent process routes the same messages with each live arm:
``heldout_best_arm_accuracy`` stands next to the served figure, and the
exploration cost (the served mix's expected shortfall against the best arm) is
held to its budget.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from ratchet import datasets
from ratchet.ci.agent_process import AgentRefused, agent_process
from ratchet.ci.budgets import Budgets, at_least, at_most, load_budgets
from ratchet.ci.candidate import (
    CandidateFailed,
    CandidateService,
    candidate_home,
    candidate_services,
    prepare_home,
)
from ratchet.ci.exploration import (
    ArmScore,
    declared_arms,
    exploration_cost,
    live_arms,
    score_arms,
)
from ratchet.ci.out_of_scope import judged, oos_label_of
from ratchet.ci.processes import peak_rss_mb
from ratchet.ci.report import TierReport
from ratchet.datasets import Example
from ratchet.errors import RatchetError
from ratchet.state import StateDocument
from ratchet.tasks.heldout import heldout_examples


def sample_of(examples: tuple[Example, ...], size: int | None) -> list[Example]:
    """Every k-th example (deterministic, spread over the file), or all of them."""
    if not size or size >= len(examples):
        return list(examples)
    stride = len(examples) / size
    return [examples[int(i * stride)] for i in range(size)]


def sample_size(rows: int, size: int | None) -> int:
    """How many of ``rows`` examples :func:`sample_of` picks for ``size``."""
    return rows if not size or size >= rows else size


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def tool_list(tools: Any) -> list[dict[str, Any]]:
    """Name and schemas of each tool, sorted: what a client can rely on."""
    listed = [
        {"name": t.name, "input_schema": t.input_schema, "output_schema": t.output_schema}
        for t in tools.tools
    ]
    return sorted(listed, key=lambda t: str(t["name"]))


@asynccontextmanager
async def connected(service: CandidateService) -> AsyncIterator[Client]:
    """An official MCP client of the candidate's service, over its Unix socket."""
    async with service.http_client() as http:
        transport = streamable_http_client(f"{service.url}/mcp", http_client=http)
        async with Client(transport) as client:
            yield client


async def _evaluate(
    runner: CandidateService, tuner: CandidateService, examples: list[Example], shards: int
) -> dict[str, Any]:
    latencies: list[float] = []
    outcome = {"right": 0, "errors": 0}
    answers: list[str | None] = [None] * len(examples)  # each example's intent (None: failed)
    arms: dict[str, int] = {}  # the arm that served each answered call
    arm_latencies: dict[str, list[float]] = {}  # per arm: where a p95 comes from
    tools: dict[str, Any] = {}

    async def shard(part: range) -> None:
        async with connected(runner) as client:
            for index in part:
                example = examples[index]
                started = time.perf_counter()
                try:
                    result = await client.call_tool("route", {"text": example.text})
                except Exception:
                    outcome["errors"] += 1
                    continue
                finally:
                    latencies.append((time.perf_counter() - started) * 1000)
                content = result.structured_content or {}
                if result.is_error:
                    outcome["errors"] += 1
                    continue
                arm = str(content.get("arm"))
                arms[arm] = arms.get(arm, 0) + 1
                arm_latencies.setdefault(arm, []).append(latencies[-1])
                answers[index] = content.get("intent")
                if answers[index] == example.intent:
                    outcome["right"] += 1

    async def list_tools(service: CandidateService) -> None:
        async with connected(service) as client:
            tools[service.name] = tool_list(await client.list_tools())

    async with anyio.create_task_group() as group:
        for first in range(shards):
            group.start_soon(shard, range(first, len(examples), shards))
    async with anyio.create_task_group() as group:
        group.start_soon(list_tools, runner)
        group.start_soon(list_tools, tuner)
    return {
        "latencies": latencies,
        **outcome,
        "answers": answers,
        "arms": arms,
        "arm_latencies": arm_latencies,
        "tools": tools,
    }


def _run_within(
    seconds: float,
    runner: CandidateService,
    tuner: CandidateService,
    examples: list[Example],
    shards: int,
) -> dict[str, Any] | None:
    """The measurements, or None when the tier's time ran out."""

    async def bounded() -> dict[str, Any] | None:
        with anyio.move_on_after(seconds):
            return await _evaluate(runner, tuner, examples, shards)
        return None

    return anyio.run(bounded)


def _arm_scores(
    state: StateDocument, code_root: Path, examples: list[Example], served: dict[str, int]
) -> dict[str, ArmScore]:
    """Each live arm's (and each arm that served) accuracy on the held-out messages."""
    arms = list(dict.fromkeys([*live_arms(state), *served]))
    declared = set(declared_arms(state))
    with agent_process(code_root, [e.text for e in examples], "full") as agent:
        return score_arms(agent, state, examples, [a for a in arms if a in declared])


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _rounded_ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _rounded_mb(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _verdict(
    measured: dict[str, Any],
    arms: dict[str, ArmScore],
    examples: list[Example],
    oos_label: str | None,
    budgets: Budgets,
    elapsed: tuple[float, float],
) -> TierReport:
    """Pass or fail against the budgets; ``elapsed`` is (seconds taken, the tier's limit)."""
    gates, calls, (seconds, limit) = budgets.budgets, len(examples), elapsed
    accuracy = measured["right"] / calls if calls else None
    error_rate = measured["errors"] / calls if calls else None
    p95 = percentile(measured["latencies"], 0.95)
    by_arm = {name: score.accuracy for name, score in arms.items()}
    best_arm = max(by_arm, key=lambda name: by_arm[name]) if by_arm else None
    cost = exploration_cost(measured["arms"], by_arm)
    reasons = [
        *at_least("heldout_accuracy", accuracy, gates.min_heldout_accuracy),
        *at_most("p95_latency_ms", p95, gates.max_p95_latency_ms),
        *at_most("error_rate", error_rate, gates.max_error_rate),
    ]
    scope, gated = judged("heldout", examples, measured["answers"], oos_label, gates)
    reasons += gated
    if by_arm:  # an agent with strategy arms: what exploring them costs is bounded
        reasons += at_most("exploration_cost", cost, budgets.exploration.max_cost)
    if seconds > limit:
        reasons.append(f"took {seconds:.1f} s, over the tier's {limit:.0f} s")
    metrics = {
        "heldout_accuracy": _rounded(accuracy),
        "heldout_best_arm_accuracy": _rounded(by_arm[best_arm] if best_arm else None),
        "exploration_cost": _rounded(cost),
        "p95_latency_ms": _rounded_ms(p95),
        "error_rate": _rounded(error_rate),
        # The candidate Runner's peak resident memory over the tier (its models included).
        "runner_peak_rss_mb": _rounded_mb(measured.get("runner_peak_rss_mb")),
        **scope,
    }
    details = {
        "calls": calls,
        "best_arm": best_arm,
        "arms": {
            name: {
                "served": measured["arms"].get(name, 0),
                "heldout_accuracy": round(acc, 6),
                "p95_latency_ms": _rounded_ms(
                    percentile(measured["arm_latencies"].get(name, []), 0.95)
                ),
            }
            for name, acc in by_arm.items()
        },
        "tools": measured["tools"],
    }
    return TierReport("full", not reasons, seconds, metrics, reasons, details)


def run_full(
    state: StateDocument,
    code_root: Path,
    data_root: Path,
    *,
    shards: int = 1,
    sample: int | None = None,
    budgets: Budgets | None = None,
    heldout: Path | None = None,
) -> TierReport:
    """Serve ``state`` with the code under ``code_root`` and judge it on the held-out split.

    ``heldout`` is the home's vault; None (a project checkout) reads the split
    from ``data_root``'s own task folder.
    """
    started = time.monotonic()
    try:
        budgets = budgets or load_budgets(code_root)
        task = datasets.task(data_root)
        examples = sample_of(heldout_examples(task, heldout), sample)
        oos_label = oos_label_of(task)
    except RatchetError as exc:
        return TierReport.failed("full", 0.0, f"cannot read the tier's inputs: {exc}")
    limits = budgets.limits("full")
    seconds = limits.time_limit_s

    def elapsed() -> float:
        return time.monotonic() - started

    with candidate_home(code_root) as home:
        try:
            prepare_home(home, code_root, state)
            with candidate_services(("runner", "tuner"), code_root, home, limits) as services:
                runner, tuner = services["runner"], services["tuner"]
                left = max(seconds - elapsed(), 1.0)
                measured = _run_within(left, runner, tuner, examples, shards)
                if measured is None:
                    return TierReport.failed("full", elapsed(), f"over the tier's {seconds:.0f} s")
                if runner.process.poll() is not None:
                    return TierReport.failed(
                        "full", elapsed(), f"the candidate runner died: {runner.log_tail(3)}"
                    )
                measured["runner_peak_rss_mb"] = peak_rss_mb(runner.process.pid)
            # The best arm's accuracy, after the Runner stopped: no load on the p95 above.
            arms = _arm_scores(state, code_root, examples, measured["arms"])
        except AgentRefused as exc:
            return TierReport.failed("full", elapsed(), f"scoring the arms: {exc}")
        except (CandidateFailed, RatchetError, OSError) as exc:
            return TierReport.failed("full", elapsed(), str(exc))
    return _verdict(measured, arms, examples, oos_label, budgets, (elapsed(), seconds))
