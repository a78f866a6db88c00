"""Database bench: ``route`` with the sessions and the audit log in Postgres against the
embedded SQLite files, and two Runner replicas on one Postgres behind one client pool.

Real processes, the official MCP client, 8 clients, alternating rounds (as
``runner_bench``): a bare MCP server answering the route shape, a Runner on SQLite
(``RATCHET_DATABASE_URL`` unset), a Runner on Postgres, and two Runners (separate
home folders) on that Postgres with the 8 clients split between them. The bench
starts its own Postgres server with its durable defaults (``tests/helpers/postgres.py``,
with ``durable=True``).

    python -m bench.db_bench [--rounds 3] [--calls 400] [--clients 8]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

import anyio

from ratchet.bootstrap import initialize
from ratchet.config import CommonSettings
from tests.helpers.postgres import running_postgres
from tests.helpers.processes import running

from .runner_bench import drive

ROOT = Path(__file__).resolve().parents[1]
ARMS = ("bare", "sqlite", "postgres", "replicas")


def new_home(**extra: str) -> dict[str, str]:
    """An initialised home of this project; the environment a service there runs with."""
    home = Path(tempfile.mkdtemp(prefix="ratchet-db-bench-")) / "home"
    initialize(CommonSettings(home=home, project_root=ROOT))
    return {
        "RATCHET_HOME": str(home),
        "RATCHET_RUNNER_PORT": "0",
        "RATCHET_BARE_PORT": "0",
        **extra,
    }


async def measure(
    servers: dict[str, list[str]], rounds: int, calls: int, clients: int
) -> dict[str, Any]:
    """Median calls/s, p50 and p99 of each arm over ``rounds`` alternating rounds."""
    for urls in servers.values():  # warm up every process
        await drive(urls, 2 * len(urls), 50)
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
    for index in range(rounds):
        order = list(servers) if index % 2 == 0 else list(reversed(servers))
        for name in order:
            samples[name].append(await drive(servers[name], clients, calls // clients))
    return {
        name: {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        for name, runs in samples.items()
    }


def ratios(summary: dict[str, Any]) -> dict[str, float]:
    def ratio(a: str, b: str, key: str) -> float:
        return float(summary[a][key] / summary[b][key])

    return {
        "postgres_vs_sqlite_throughput": ratio("postgres", "sqlite", "calls_per_s"),
        "postgres_vs_sqlite_p99": ratio("postgres", "sqlite", "p99_ms"),
        "replicas_vs_postgres_throughput": ratio("replicas", "postgres", "calls_per_s"),
        "replicas_vs_postgres_p99": ratio("replicas", "postgres", "p99_ms"),
        "sqlite_vs_bare_throughput": ratio("sqlite", "bare", "calls_per_s"),
        "postgres_vs_bare_throughput": ratio("postgres", "bare", "calls_per_s"),
    }


async def main(rounds: int, calls: int, clients: int) -> dict[str, Any]:
    with running_postgres(Path(tempfile.gettempdir()), durable=True) as server:
        url = server.create_database("ratchet")
        lite, first, second = (
            new_home(),
            new_home(RATCHET_DATABASE_URL=url),
            new_home(RATCHET_DATABASE_URL=url),
        )
        with (
            running("bench.bare_server", lite) as bare,
            running("services.runner", lite) as on_sqlite,
            running("services.runner", first) as replica_a,
            running("services.runner", second) as replica_b,
        ):
            servers = {
                "bare": [f"{bare.url}/mcp"],
                "sqlite": [f"{on_sqlite.url}/mcp"],
                "postgres": [f"{replica_a.url}/mcp"],
                "replicas": [f"{replica_a.url}/mcp", f"{replica_b.url}/mcp"],
            }
            summary = await measure(servers, rounds, calls, clients)
    return {
        "rounds": rounds,
        "calls_per_round": calls,
        "clients": clients,
        **summary,
        "ratios": ratios(summary),
    }


def report(results: dict[str, Any]) -> None:
    for name in ARMS:
        arm = results[name]
        print(
            f"{name:>9}: {arm['calls_per_s']:.0f} calls/s, p50 {arm['p50_ms']:.1f} ms, "
            f"p99 {arm['p99_ms']:.1f} ms, {arm['errors']:.0f} errors"
        )
    for key, value in results["ratios"].items():
        print(f"{key}: {value:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "db.json")
    args = parser.parse_args()
    outcome = anyio.run(main, args.rounds, args.calls, args.clients)
    report(outcome)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(outcome, indent=2))
