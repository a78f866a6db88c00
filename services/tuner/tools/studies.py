"""CMA-ES studies stored in the object store, each one signed blob under compare-and-swap.

Every ask and tell re-reads, applies and writes back, so results from many
clients and processes all land, none twice, and a restart resumes exactly
where the last write left the study. The blob is signed (HMAC before any
unpickling, see :mod:`services.tuner.algorithms.cmaes`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from ratchet.errors import ConflictError, NotFoundError, RatchetError
from ratchet.objects import ObjectStore

from ..algorithms.cmaes import Param, Study, StudyError, TamperedState

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
STATE_STUDY = "state"  # optimises the state's declared params
T = TypeVar("T")


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


def study_key(study: str) -> str:
    if not NAME.match(study):
        raise ToolError(f"malformed study name {study!r}: letters, digits, _ . - (max 64)")
    return f"tuner/studies/{study}.cma"


def status_of(name: str, study: Study) -> StudyStatus:
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


def same_space(study: Study, params: list[Param]) -> bool:
    """The study searches exactly ``params``: the same names with the same bounds."""
    return [(p.name, p.low, p.high) for p in study.params] == [
        (p.name, p.low, p.high) for p in params
    ]


def ensure_study(studies: StudyStore, name: str, params: list[Param]) -> bool:
    """Study ``name`` over ``params``, started (from their values) when missing or when it
    searches other names or bounds: a study started before a release added a param would
    never move it. True when it was (re)started."""
    if studies.exists(name) and same_space(studies.load(name), params):
        return False
    studies.start(name, params, 0.3, 0, None, True)
    return True


async def off_loop(fn: Callable[[], T]) -> T:
    """``fn`` in a worker thread; a study's or a store's error becomes a tool error."""
    try:
        return await anyio.to_thread.run_sync(fn)
    except (StudyError, TamperedState, RatchetError) as exc:
        raise ToolError(f"{type(exc).__name__}: {exc}") from None


class StudyStore:
    """Studies by name in ``objects``, signed with ``key`` (blocking calls)."""

    def __init__(self, objects: ObjectStore, key: bytes) -> None:
        self.objects = objects
        self.key = key
        self._local = threading.Lock()  # one writer per process; CAS orders processes

    def exists(self, name: str) -> bool:
        return self.objects.exists(study_key(name))

    def load(self, name: str) -> Study:
        try:
            return Study.from_bytes(self.objects.get(study_key(name)).data, self.key)
        except NotFoundError:
            raise ToolError(f"no study {name!r}: start it with cma_start") from None

    def change(self, name: str, act: Callable[[Study], T]) -> tuple[Study, T]:
        """Apply ``act`` to the stored study under compare-and-swap; return both results."""
        out: dict[str, Any] = {}

        def step(current: bytes | None) -> bytes:
            if current is None:
                raise StudyError(f"no study {name!r}: start it with cma_start")
            study = Study.from_bytes(current, self.key)
            out["result"], out["study"] = act(study), study
            return study.to_bytes(self.key)

        with self._local:
            self.objects.update(study_key(name), step)
        return out["study"], out["result"]

    def start(
        self,
        name: str,
        params: list[Param],
        sigma0: float,
        seed: int | None,
        popsize: int | None,
        restart: bool,
    ) -> Study:
        study = Study(params, sigma0=sigma0, seed=seed or 0, popsize=popsize)
        blob = study.to_bytes(self.key)
        with self._local:
            if restart:
                self.objects.put(study_key(name), blob)
                return study
            try:
                self.objects.put(study_key(name), blob, if_none_match=True)
            except ConflictError:
                raise StudyError(
                    f"study {name!r} exists: pass restart=true to replace it"
                ) from None
        return study
