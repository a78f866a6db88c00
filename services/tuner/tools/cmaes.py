"""CMA-ES studies any client can evaluate: ``cma_start``, ``cma_ask``, ``cma_tell``,
``cma_status``; and ``tune_params``, the Tuner's own evaluator on the dev split (:mod:`.tune`).

Studies live in :mod:`.studies` (one signed blob each, under
compare-and-swap). A study named after the state (``state``) optimises the
parameters the state declares; its best point can be written to staging.
"""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from ratchet.state import StateManager

from ..algorithms.cmaes import Param
from ..context import TunerContext
from . import tune
from .studies import (
    STATE_STUDY,
    StudyStatus,
    StudyStore,
    off_loop,
    state_params,
    status_of,
    study_key,
)


class Bounds(BaseModel):
    low: float
    high: float
    x0: float | None = None


class CandidateOut(BaseModel):
    id: str
    generation: int
    params: dict[str, float]


class AskResult(BaseModel):
    candidates: list[CandidateOut]
    status: StudyStatus


class CmaTools:
    """The study tools over ``studies``; the ``state`` study reads its params from staging."""

    def __init__(self, studies: StudyStore, manager: StateManager) -> None:
        self.studies = studies
        self.manager = manager

    async def cma_start(
        self,
        study: str,
        params: dict[str, Bounds] | None = None,
        sigma0: Annotated[float, Field(gt=0, le=1)] = 0.3,
        seed: int | None = None,
        popsize: Annotated[int | None, Field(ge=4, le=1000)] = None,
        restart: bool = False,
    ) -> StudyStatus:
        study_key(study)
        if params is None:
            if study != STATE_STUDY:
                raise ToolError(f"give params, or use the study name {STATE_STUDY!r}")
            declared = state_params(self.manager.read_staging().data)
        else:
            if not params or len(params) > 1000:
                raise ToolError("params must name 1 to 1000 parameters")
            bad = [n for n, b in params.items() if not b.low < b.high]
            if bad:
                raise ToolError(f"low must be below high for {bad}")
            declared = [Param(n, b.low, b.high, b.x0) for n, b in sorted(params.items())]
        made = await off_loop(
            lambda: self.studies.start(study, declared, sigma0, seed, popsize, restart)
        )
        return status_of(study, made)

    async def cma_ask(self, study: str, n: Annotated[int, Field(ge=1, le=100)] = 1) -> AskResult:
        state, asked = await off_loop(
            lambda: self.studies.change(study, lambda s: [s.ask() for _ in range(n)])
        )
        candidates = [
            CandidateOut(id=c.id, generation=c.generation, params=c.params) for c in asked
        ]
        return AskResult(candidates=candidates, status=status_of(study, state))

    async def cma_tell(self, study: str, candidate_id: str, value: float) -> StudyStatus:
        state, _ = await off_loop(
            lambda: self.studies.change(study, lambda s: s.tell(candidate_id, value))
        )
        return status_of(study, state)

    async def cma_status(self, study: str) -> StudyStatus:
        return status_of(study, await off_loop(lambda: self.studies.load(study)))


def register(server: MCPServer, ctx: TunerContext) -> None:
    tools = CmaTools(ctx.studies, ctx.manager)
    server.add_tool(
        tools.cma_start,
        description=(
            "Start a CMA-ES study over named parameters with bounds (params omitted and "
            f"study '{STATE_STUDY}': the parameters the state declares). restart replaces an "
            "existing study."
        ),
    )
    server.add_tool(
        tools.cma_ask,
        description="Candidates to evaluate next (evaluate each, then cma_tell it).",
    )
    server.add_tool(
        tools.cma_tell,
        description=(
            "The objective value (lower is better) of an asked candidate. Results may come in "
            "any order; every one is used."
        ),
    )
    server.add_tool(
        tools.cma_status, description="A study's progress: generation, counts, best and mean point."
    )
    server.add_tool(ctx.param_tuner.tune_params, description=tune.DESCRIPTION)
