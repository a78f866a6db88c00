"""The CMA-ES study tools called directly: start, ask, tell, status, and their errors."""

from __future__ import annotations

import pytest
from mcp.server.mcpserver.exceptions import ToolError

from services.tuner.context import TunerContext
from services.tuner.tools.cmaes import Bounds, CmaTools
from services.tuner.tools.studies import StudyStore

pytestmark = pytest.mark.anyio

PARAMS = {"x": Bounds(low=-1.0, high=1.0, x0=0.5), "y": Bounds(low=0.0, high=2.0)}


def tools(context: TunerContext, key: bytes = b"a key of at least sixteen bytes") -> CmaTools:
    return CmaTools(StudyStore(context.objects, key), context.manager)


async def test_a_told_candidate_is_counted_and_becomes_the_best(context: TunerContext) -> None:
    cma = tools(context)
    started = await cma.cma_start("s", PARAMS, seed=1, popsize=4)
    assert (started.generation, started.asked, started.popsize) == (0, 0, 4)
    asked = await cma.cma_ask("s", n=2)
    assert [c.generation for c in asked.candidates] == [0, 0]
    assert asked.status.pending == 2
    first = asked.candidates[0]
    told = await cma.cma_tell("s", first.id, 0.25)
    assert (told.told, told.pending, told.best_value) == (1, 1, 0.25)
    assert told.best_params == first.params
    assert (await cma.cma_status("s")).told == 1


async def test_the_state_study_optimises_the_params_staging_declares(
    context: TunerContext,
) -> None:
    started = await tools(context).cma_start("state")
    declared = context.manager.read_staging().data["params"]
    assert set(started.mean_params) == set(declared)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"study": "bad name", "params": PARAMS}, "malformed study name"),
        ({"study": "s"}, "give params, or use the study name 'state'"),
        ({"study": "s", "params": {"x": Bounds(low=1, high=0)}}, "low must be below high"),
        ({"study": "s", "params": {}}, "params must name 1 to 1000 parameters"),
    ],
)
async def test_a_bad_start_is_a_tool_error(
    context: TunerContext, arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(ToolError, match=message):
        await tools(context).cma_start(**arguments)  # type: ignore[arg-type]


async def test_a_started_study_is_kept_unless_restarted(context: TunerContext) -> None:
    cma = tools(context)
    await cma.cma_start("s", PARAMS)
    await cma.cma_ask("s")
    with pytest.raises(ToolError, match="StudyError: study 's' exists"):
        await cma.cma_start("s", PARAMS)
    assert (await cma.cma_start("s", PARAMS, restart=True)).asked == 0


async def test_unknown_studies_candidates_and_foreign_signatures_are_tool_errors(
    context: TunerContext,
) -> None:
    cma = tools(context)
    with pytest.raises(ToolError, match="no study 'none'"):
        await cma.cma_status("none")
    await cma.cma_start("s", PARAMS)
    with pytest.raises(ToolError, match="UnknownCandidate"):
        await cma.cma_tell("s", "nope", 1.0)
    with pytest.raises(ToolError, match="TamperedState"):
        await tools(context, key=b"another key, also sixteen bytes").cma_ask("s")
