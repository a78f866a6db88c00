"""Runner benchmark: ``route`` over MCP against a bare MCPServer, side by side.

Both servers run as real processes with the same transport settings and are
driven by the same official MCP client code, in alternating rounds, so the
machine's noise hits both alike; the figures that matter are the ratios (the
median of each round's ratio).
Then the Runner's resident memory after 10,000 calls over 1,000 conversations.

    python -m bench.runner_bench [--rounds 9] [--calls 400]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

from ratchet.bootstrap import initialize
from ratchet.config import CommonSettings
from tests.helpers.processes import running

from .stats import percentile

ROOT = Path(__file__).resolve().parents[1]
TEXTS = [
    "I am still waiting on my card?",
    "How do I top up my account with a bank transfer?",
    "Why was I charged an extra fee on my statement?",
    "My card payment was declined at the shop",
]


async def drive(
    url: str | list[str], clients: int, calls_per_client: int, conversations: int = 0
) -> dict[str, float]:
    """Run ``clients`` concurrent MCP clients; return calls/s and latency percentiles.
    With several URLs (replicas), client ``i`` calls ``url[i % len(url)]``."""
    urls = [url] if isinstance(url, str) else url
    latencies: list[float] = []
    errors = 0

    async def one(index: int) -> None:
        nonlocal errors
        async with Client(urls[index % len(urls)]) as client:
            for call in range(calls_per_client):
                arguments: dict[str, Any] = {"text": TEXTS[(index + call) % len(TEXTS)]}
                if conversations:
                    arguments["conversation_id"] = (
                        f"bench-{(index * calls_per_client + call) % conversations}"
                    )
                started = time.perf_counter()
                result = await client.call_tool("route", arguments)
                latencies.append((time.perf_counter() - started) * 1000)
                errors += int(bool(result.is_error))

    started = time.perf_counter()
    async with anyio.create_task_group() as group:
        for index in range(clients):
            group.start_soon(one, index)
    elapsed = time.perf_counter() - started
    return {
        "calls_per_s": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "errors": errors,
    }


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def main(rounds: int, calls: int, memory_calls: int) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="ratchet-bench-")) / "home"
    initialize(CommonSettings(home=home, project_root=ROOT))
    env = {"RATCHET_HOME": str(home), "RATCHET_RUNNER_PORT": "0", "RATCHET_BARE_PORT": "0"}
    results: dict[str, Any] = {"rounds": rounds, "calls_per_round": calls}
    with running("bench.bare_server", env) as bare, running("services.runner", env) as runner:
        servers = {"bare": f"{bare.url}/mcp", "runner": f"{runner.url}/mcp"}
        for url in servers.values():  # warm both up
            await drive(url, 2, 50)
        for clients in (1, 8):
            samples: dict[str, list[dict[str, float]]] = {"bare": [], "runner": []}
            for _ in range(rounds):
                for name, url in servers.items():
                    samples[name].append(await drive(url, clients, calls // clients))
            summary: dict[str, Any] = {
                name: {key: statistics.median(s[key] for s in runs) for key in runs[0]}
                for name, runs in samples.items()
            }
            # Each round's ratio is of two runs back to back, under the same load: the
            # median of those is steadier than a ratio of medians taken across rounds.
            pairs = list(zip(samples["runner"], samples["bare"], strict=True))
            summary["throughput_ratio"] = statistics.median(
                r["calls_per_s"] / b["calls_per_s"] for r, b in pairs
            )
            summary["p99_ratio"] = statistics.median(r["p99_ms"] / b["p99_ms"] for r, b in pairs)
            results[f"clients_{clients}"] = summary
        before = rss_mb(runner.process.pid)
        memory = await drive(servers["runner"], 8, memory_calls // 8, conversations=1000)
        results["memory"] = {
            "calls": memory_calls,
            "conversations": 1000,
            "rss_mb_before": before,
            "rss_mb_after": rss_mb(runner.process.pid),
            "errors": memory["errors"],
        }
    return results


def report(results: dict[str, Any]) -> None:
    for clients in (1, 8):
        s = results[f"clients_{clients}"]
        print(
            f"{clients} client(s): runner {s['runner']['calls_per_s']:.0f} calls/s "
            f"(p50 {s['runner']['p50_ms']:.1f} ms, p99 {s['runner']['p99_ms']:.1f} ms) | "
            f"bare {s['bare']['calls_per_s']:.0f} calls/s (p50 {s['bare']['p50_ms']:.1f} ms, "
            f"p99 {s['bare']['p99_ms']:.1f} ms) | throughput ratio "
            f"{s['throughput_ratio']:.2f}, p99 ratio {s['p99_ratio']:.2f}"
        )
    m = results["memory"]
    print(
        f"memory: {m['rss_mb_before']:.0f} MB -> {m['rss_mb_after']:.0f} MB after {m['calls']} "
        f"calls over {m['conversations']} conversations ({m['errors']} errors)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--memory-calls", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "runner.json")
    args = parser.parse_args()
    outcome = anyio.run(main, args.rounds, args.calls, args.memory_calls)
    report(outcome)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(outcome, indent=2))
    sys.exit(0)
