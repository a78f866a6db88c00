"""CMA-ES over MCP: concurrent out-of-order tells all used, errors, signed state, resume,
and the Tuner's own evaluator on the dev split."""

from __future__ import annotations

import random

import anyio
import pytest
from mcp import Client

from ratchet.objects import open_object_store
from ratchet.sessions import SessionStore
from ratchet.state import open_state_manager
from services.tuner.app import build_server
from services.tuner.settings import TunerSettings
from tests.helpers.mcp import call

pytestmark = pytest.mark.anyio

SPHERE = {f"x{i}": {"low": -5.0, "high": 5.0, "x0": 3.0} for i in range(4)}


def sphere(params: dict[str, float]) -> float:
    return sum(v * v for v in params.values())


async def test_concurrent_clients_out_of_order_every_result_used(
    tuner_settings: TunerSettings, sessions: SessionStore
) -> None:
    manager = open_state_manager(tuner_settings)
    told = 0
    async with Client(build_server(tuner_settings, manager, sessions)) as c:
        started = await call(c, "cma_start", study="sphere", params=SPHERE, seed=3)
        again = await c.call_tool("cma_start", {"study": "sphere", "params": SPHERE})

        async def worker(index: int) -> None:
            nonlocal told
            rng = random.Random(index)
            for _ in range(40):
                asked = await call(c, "cma_ask", study="sphere", n=2)
                pending = asked["candidates"]
                rng.shuffle(pending)  # results come back in any order
                for candidate in pending:
                    await call(
                        c,
                        "cma_tell",
                        study="sphere",
                        candidate_id=candidate["id"],
                        value=sphere(candidate["params"]),
                    )
                    told += 1

        async with anyio.create_task_group() as group:
            for index in range(4):
                group.start_soon(worker, index)
        status = await call(c, "cma_status", study="sphere")
        unknown = await c.call_tool(
            "cma_tell", {"study": "sphere", "candidate_id": "g0-99999", "value": 1.0}
        )
        first = (await call(c, "cma_ask", study="sphere"))["candidates"][0]
        await call(c, "cma_tell", study="sphere", candidate_id=first["id"], value=1.0)
        twice = await c.call_tool(
            "cma_tell", {"study": "sphere", "candidate_id": first["id"], "value": 1.0}
        )
        missing = await c.call_tool("cma_status", {"study": "nope"})
    assert started["popsize"] == 8 and started["told"] == 0
    assert again.is_error and "restart" in str(again.content)
    assert status["told"] == told == 320 and status["pending"] == 0
    assert status["used_in_updates"] + status["buffered"] == 320  # none discarded
    assert status["buffered"] < status["popsize"] and status["generation"] >= 39
    # 320 evaluations of a 4-D sphere from x0 = 3 (f = 36). The interleaving of four
    # clients decides which generation each result joins, so the exact optimum varies
    # run to run (seen 1e-5 .. 1.1e-2: a fresh-clone CI run failed a 1e-2 bound); a
    # broken update would stay near 36, so 0.1 still tells the two apart.
    assert status["best_value"] < 0.1
    assert all(-5 <= v <= 5 for v in status["best_params"].values())
    assert unknown.is_error and "UnknownCandidate" in str(unknown.content)
    assert twice.is_error and "AlreadyTold" in str(twice.content)
    assert missing.is_error and "cma_start" in str(missing.content)


async def test_a_new_process_resumes_and_a_tampered_study_is_refused(
    tuner_settings: TunerSettings, sessions: SessionStore
) -> None:
    manager = open_state_manager(tuner_settings)
    async with Client(build_server(tuner_settings, manager, sessions)) as c:
        await call(c, "cma_start", study="s", params=SPHERE, seed=1)
        asked = await call(c, "cma_ask", study="s", n=3)
    # Another server over the same home: what the first wrote is where it left off.
    async with Client(build_server(tuner_settings, manager, sessions)) as c:
        for candidate in asked["candidates"]:
            await call(c, "cma_tell", study="s", candidate_id=candidate["id"], value=1.0)
        status = await call(c, "cma_status", study="s")
        store = open_object_store(tuner_settings)
        blob = bytearray(store.get("tuner/studies/s.cma").data)
        blob[-1] ^= 0xFF  # one flipped bit in the pickled payload
        store.put("tuner/studies/s.cma", bytes(blob))
        tampered = await c.call_tool("cma_status", {"study": "s"})
    assert status["asked"] == 3 and status["told"] == 3 and status["pending"] == 0
    assert tampered.is_error and "TamperedState" in str(tampered.content)


@pytest.mark.slow
async def test_tune_params_scores_on_dev_and_only_applies_an_improvement(
    project_home: TunerSettings, store: SessionStore
) -> None:
    manager = open_state_manager(project_home)
    before = manager.read_staging()
    async with Client(build_server(project_home, manager, store)) as c:
        tuned = await call(c, "tune_params", evaluations=6)
    after = manager.read_staging()
    assert tuned["evaluations"] == 6 and tuned["status"]["told"] == 6
    assert 0.5 < tuned["dev_accuracy_before"] <= tuned["dev_accuracy_after"] <= 1
    if tuned["applied"]:
        assert after.revision > before.revision
        assert tuned["dev_accuracy_after"] > tuned["dev_accuracy_before"]
        assert {n: p["value"] for n, p in after.data["params"].items()} == tuned["params"]
    else:
        assert after.data["params"] == before.data["params"]
