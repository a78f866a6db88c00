"""CMA-ES studies any client can evaluate: ``cma_start``, ``cma_ask``, ``cma_tell``,
``cma_status``; and ``tune_params``, the Tuner's own evaluator on the dev split.

A study lives in the object store as one signed blob (HMAC before any
unpickling, see :mod:`services.tuner.algorithms.cmaes`) under
compare-and-swap: every ask and tell re-reads, applies and writes back, so
results from many clients and processes all land, none twice, and a restart
resumes exactly where the last write left the study. A study named after
the state (``state``) optimises the parameters the state declares; its best
point can be written to staging.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from ratchet.errors import ConflictError, NotFoundError, RatchetError
from ratchet.secrets import signing_key
from ratchet.state import StateDocument

from ..algorithms.cmaes import Param, Study, StudyError, TamperedState
from ..context import TunerContext

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
STATE_STUDY = "state"  # optimises the state's declared params
T = TypeVar("T")


class Bounds(BaseModel):
    low: float
    high: float
    x0: float | None = None


class CandidateOut(BaseModel):
    id: str
    generation: int
    params: dict[str, float]


class StudyStatus(BaseModel):
    study: str
    generation: int = Field(description="Updates applied to the distribution so far.")
    popsize: int
    asked: int
    told: int
    used_in_updates: int = Field(description="Told results already fed to an update.")
    buffered: int = Field(description="Told results waiting for the next update.")
    pending: int = Field(description="Asked, not yet told.")
    best_value: float | None
    best_params: dict[str, float] | None
    mean_params: dict[str, float]


class AskResult(BaseModel):
    candidates: list[CandidateOut]
    status: StudyStatus


class TuneResult(BaseModel):
    evaluations: int
    dev_accuracy_before: float
    dev_accuracy_after: float
    params: dict[str, float] = Field(description="The params staging holds now.")
    applied: bool = Field(description="Staging got the best point (it beat the current one).")
    staging_revision: int
    status: StudyStatus


def _key(study: str) -> str:
    if not NAME.match(study):
        raise ToolError(f"malformed study name {study!r}: letters, digits, _ . - (max 64)")
    return f"tuner/studies/{study}.cma"


def _status(name: str, study: Study) -> StudyStatus:
    counters, advice = study.counters, study.recommendation()
    return StudyStatus(
        study=name,
        generation=counters.generations,
        popsize=study.popsize,
        asked=counters.asked,
        told=counters.told,
        used_in_updates=counters.used_in_updates,
        buffered=counters.buffered,
        pending=counters.outstanding,
        best_value=advice.best.value if advice.best else None,
        best_params=advice.best.params if advice.best else None,
        mean_params=advice.mean,
    )


def state_params(data: dict[str, Any]) -> list[Param]:
    return [
        Param(name, float(p["low"]), float(p["high"]), float(p["value"]))
        for name, p in sorted(data["params"].items())
    ]


def register(server: MCPServer, ctx: TunerContext) -> None:
    store = ctx.objects
    secret = ctx.settings.state_key
    key = signing_key(
        ctx.settings.home_path, "tuner-state", secret.get_secret_value() if secret else None
    )
    local = threading.Lock()  # one writer per process; CAS orders processes

    def load(name: str) -> Study:
        try:
            return Study.from_bytes(store.get(_key(name)).data, key)
        except NotFoundError:
            raise ToolError(f"no study {name!r}: start it with cma_start") from None

    def change(name: str, act: Callable[[Study], T]) -> tuple[Study, T]:
        """Apply ``act`` to the stored study under compare-and-swap; return both results."""
        out: dict[str, Any] = {}

        def step(current: bytes | None) -> bytes:
            if current is None:
                raise StudyError(f"no study {name!r}: start it with cma_start")
            study = Study.from_bytes(current, key)
            out["result"], out["study"] = act(study), study
            return study.to_bytes(key)

        with local:
            store.update(_key(name), step)
        return out["study"], out["result"]

    async def off_loop(fn: Callable[[], T]) -> T:
        try:
            return await anyio.to_thread.run_sync(fn)
        except (StudyError, TamperedState, RatchetError) as exc:
            raise ToolError(f"{type(exc).__name__}: {exc}") from None

    def start(
        name: str,
        params: list[Param],
        sigma0: float,
        seed: int | None,
        popsize: int | None,
        restart: bool,
    ) -> Study:
        study = Study(params, sigma0=sigma0, seed=seed or 0, popsize=popsize)
        blob = study.to_bytes(key)
        with local:
            if restart:
                store.put(_key(name), blob)
                return study
            try:
                store.put(_key(name), blob, if_none_match=True)
            except ConflictError:
                raise StudyError(
                    f"study {name!r} exists: pass restart=true to replace it"
                ) from None
        return study

    @server.tool(
        description=(
            "Start a CMA-ES study over named parameters with bounds (params omitted and "
            f"study '{STATE_STUDY}': the parameters the state declares). restart replaces an "
            "existing study."
        )
    )
    async def cma_start(
        study: str,
        params: dict[str, Bounds] | None = None,
        sigma0: Annotated[float, Field(gt=0, le=1)] = 0.3,
        seed: int | None = None,
        popsize: Annotated[int | None, Field(ge=4, le=1000)] = None,
        restart: bool = False,
    ) -> StudyStatus:
        _key(study)
        if params is None:
            if study != STATE_STUDY:
                raise ToolError(f"give params, or use the study name {STATE_STUDY!r}")
            declared = state_params(ctx.manager.read_staging().data)
        else:
            if not params or len(params) > 1000:
                raise ToolError("params must name 1 to 1000 parameters")
            bad = [n for n, b in params.items() if not b.low < b.high]
            if bad:
                raise ToolError(f"low must be below high for {bad}")
            declared = [Param(n, b.low, b.high, b.x0) for n, b in sorted(params.items())]
        made = await off_loop(lambda: start(study, declared, sigma0, seed, popsize, restart))
        return _status(study, made)

    @server.tool(description="Candidates to evaluate next (evaluate each, then cma_tell it).")
    async def cma_ask(study: str, n: Annotated[int, Field(ge=1, le=100)] = 1) -> AskResult:
        state, asked = await off_loop(lambda: change(study, lambda s: [s.ask() for _ in range(n)]))
        candidates = [
            CandidateOut(id=c.id, generation=c.generation, params=c.params) for c in asked
        ]
        return AskResult(candidates=candidates, status=_status(study, state))

    @server.tool(
        description=(
            "The objective value (lower is better) of an asked candidate. Results may come in "
            "any order; every one is used."
        )
    )
    async def cma_tell(study: str, candidate_id: str, value: float) -> StudyStatus:
        state, _ = await off_loop(lambda: change(study, lambda s: s.tell(candidate_id, value)))
        return _status(study, state)

    @server.tool(description="A study's progress: generation, counts, best and mean point.")
    async def cma_status(study: str) -> StudyStatus:
        return _status(study, await off_loop(lambda: load(study)))

    @server.tool(
        description=(
            "The Tuner's own evaluator: run the state's CMA-ES study for `evaluations` "
            "dev-split scores (in its own process, from the active release's code) and write "
            "the best params to staging if they beat the current ones on dev."
        )
    )
    async def tune_params(
        evaluations: Annotated[int, Field(ge=1, le=2000)] = 48,
    ) -> TuneResult:
        def run() -> TuneResult:
            staging = ctx.manager.read_staging()
            base = staging.data
            if not store.exists(_key(STATE_STUDY)):
                start(STATE_STUDY, state_params(base), 0.3, 0, None, restart=False)

            def with_params(values: dict[str, float]) -> dict[str, Any]:
                params = {
                    name: {**p, "value": values.get(name, p["value"])}
                    for name, p in base["params"].items()
                }
                return {**base, "params": params}

            def tell(candidate_id: str, value: float, study: Study) -> bool:
                return study.tell(candidate_id, value)

            with ctx.scorer.session() as score:
                before = score(base)
                for _ in range(evaluations):
                    _, candidate = change(STATE_STUDY, lambda s: s.ask())
                    accuracy = score(with_params(candidate.params))
                    study, _ = change(
                        STATE_STUDY, functools.partial(tell, candidate.id, 1 - accuracy)
                    )
            best = study.best
            after = 1 - best.value if best is not None else before
            applied = best is not None and after > before

            def apply(document: StateDocument) -> tuple[dict[str, Any], dict[str, Any] | None]:
                assert best is not None
                params = {
                    name: {**p, "value": best.params.get(name, p["value"])}
                    for name, p in document.data["params"].items()
                }
                return {**document.data, "params": params}, document.tuning

            written = staging
            if applied:
                written = ctx.manager.update_staging_document(apply, actor="tuner")
            return TuneResult(
                evaluations=evaluations,
                dev_accuracy_before=round(before, 4),
                dev_accuracy_after=round(max(after, before), 4),
                params={n: p["value"] for n, p in written.data["params"].items()},
                applied=applied,
                staging_revision=written.revision,
                status=_status(STATE_STUDY, study),
            )

        return await off_loop(run)
