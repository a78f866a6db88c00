"""Tuning a release's params after it is served: the Tuner's last mile after the Architect.

An Architect release (minor or major) may add arms and params at the values
its template chose by hand. :class:`ReleaseTuner` runs the ``state`` CMA-ES
study on the ACTIVE release's params on dev (restarted when they are not the
params the study searches) and, when its best point beats them by more than
the noise margin, releases it as a patch ("tuned N params after vX.Y.Z: dev
a -> b in K evaluations"). One tune runs at a time, in a background thread;
asking while one runs answers its progress.

Idempotent per release: the state's ``tuning`` section records what was
tuned (``params_tuned``). A patch carries the record to the active state,
whose params then equal the tuned ones; a tune that did not win records its
verdict in staging. Either way a second ask for the same release does nothing.

The patch is staging rebased on the active release (:mod:`services.tuner.rebase`:
its unreleased feedback kept) with the tuned params.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Literal

from pydantic import BaseModel, Field

from ratchet.state import ActiveState, StateDocument, StateManager

from .promotion import Promoter, ReleaseNote
from .rebase import follow, placed
from .tools.studies import state_params
from .tools.tune import ParamTuner, Search, with_params

log = logging.getLogger(__name__)
TUNED = "params_tuned"  # in a state's `tuning`: the record of the release's params tuned

Phase = Literal["idle", "running", "released", "kept", "refused", "failed", "done"]


class ReleaseTuning(BaseModel):
    """A release's tune: under way, or how it ended."""

    phase: Phase = Field(
        description="running; released (a patch); kept (no gain over the noise margin); "
        "refused (promotion refused); failed; done (tuned before: nothing to do); idle."
    )
    release: str | None = Field(default=None, description="The version whose params are tuned.")
    params: list[str] = Field(default_factory=list)
    evaluations: int = 0
    done: int = Field(default=0, description="Evaluations scored so far.")
    dev_before: float | None = None
    dev_best: float | None = None
    noise_margin: float | None = None
    best_params: dict[str, float] | None = None
    study_restarted: bool | None = None
    version: str | None = Field(default=None, description="The patch released, if any.")
    reason: str = ""


def signature(data: dict[str, Any]) -> list[list[Any]]:
    """The params ``data`` declares: names and bounds (what a tune is valid for)."""
    return [[p.name, p.low, p.high] for p in state_params(data)]


def values(data: dict[str, Any]) -> dict[str, float]:
    return {name: float(p["value"]) for name, p in data["params"].items()}


class ReleaseTuner:
    def __init__(self, manager: StateManager, tuner: ParamTuner, promoter: Promoter) -> None:
        self.manager = manager
        self.tuner = tuner
        self.promoter = promoter
        self.current = ReleaseTuning(phase="idle", reason="no tune asked since the start")
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def ask(self, evaluations: int) -> ReleaseTuning:
        """Start tuning the active release unless a tune runs or it was tuned already."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return self.current
            active = self.manager.read_active()
            verdict = self._nothing_to_do(active)
            if verdict is not None:
                return verdict
            assert active is not None
            data = active.document.data
            self.current = ReleaseTuning(
                phase="running",
                release=active.version,
                params=[p.name for p in state_params(data)],
                evaluations=evaluations,
                reason=f"tuning {active.version}'s params on dev",
            )
            self._thread = threading.Thread(
                target=self._run, args=(active, evaluations), name="tune-release", daemon=True
            )
            self._thread.start()
            return self.current

    def wait(self, timeout: float | None = None) -> ReleaseTuning:
        """The outcome once the running tune (if any) is over (for tests and callers)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.current

    def _nothing_to_do(self, active: ActiveState | None) -> ReleaseTuning | None:
        if active is None:
            return ReleaseTuning(phase="done", reason="no active release yet: run `ratchet init`")
        data = active.document.data
        if not data.get("params"):
            return ReleaseTuning(
                phase="done", release=active.version, reason="the state declares no params"
            )
        record = self._record_for(active)
        if record is None:
            return None
        return ReleaseTuning(
            phase="done",
            release=str(record["release"]),
            params=[s[0] for s in record["signature"]],
            evaluations=int(record["evaluations"]),
            dev_before=record["dev_before"],
            dev_best=record["dev_best"],
            reason=f"already tuned: {record['verdict']}",
        )

    def _record_for(self, active: ActiveState) -> dict[str, Any] | None:
        """The record of a tune of the active release's params, if one was made.

        The active state's own record counts when its params are the tuned ones
        and it is that tune's patch or a later patch of the Tuner (a new
        Architect release carries the record along in its state file, but its
        code may move the optimum: it is tuned again); staging's when it is a
        verdict of no gain on this very release.
        """
        data = active.document.data
        mine = (active.document.tuning or {}).get(TUNED)
        if (
            mine
            and mine["signature"] == signature(data)
            and mine.get("tuned_params") == values(data)
            and active.pointer.actor == "tuner"
        ):
            return dict(mine)
        staged = (self.manager.read_staging().tuning or {}).get(TUNED)
        if (
            staged
            and staged["release"] == active.version
            and staged["outcome"] == "kept"
            and staged["signature"] == signature(data)
        ):
            return dict(staged)
        return None

    def _progress(self, done: int, best: float) -> None:
        self.current = self.current.model_copy(update={"done": done, "dev_best": round(best, 4)})

    def _run(self, active: ActiveState, evaluations: int) -> None:
        try:
            data = active.document.data
            found = self.tuner.search(data, evaluations, progress=self._progress)
            margin = self.tuner.noise_margin()
            self.current = self.current.model_copy(
                update={
                    "dev_before": round(found.before, 4),
                    "dev_best": round(found.after, 4),
                    "noise_margin": margin,
                    "best_params": found.best.params if found.best else None,
                    "study_restarted": found.restarted,
                }
            )
            if found.wins(margin):
                self._release(active, found, evaluations)
            else:
                self._keep(active, found, evaluations, margin)
        except Exception as exc:
            log.exception("tuning %s failed", active.version)
            self.current = self.current.model_copy(
                update={"phase": "failed", "reason": f"{type(exc).__name__}: {exc}"}
            )
        log.info("release tuning: %s", self.current.reason)

    def _record(
        self, active: ActiveState, found: Search, evaluations: int, outcome: str, verdict: str
    ) -> dict[str, Any]:
        return {
            "release": active.version,
            "signature": signature(active.document.data),
            "evaluations": evaluations,
            "dev_before": round(found.before, 4),
            "dev_best": round(found.after, 4),
            "outcome": outcome,
            "verdict": verdict,
            "tuned_params": found.best.params if found.best and outcome == "released" else None,
        }

    def _keep(self, active: ActiveState, found: Search, evaluations: int, margin: float) -> None:
        # The best point found may score below the release's own params (the search
        # does not start from them): say which, not "before -> after".
        before, after = round(found.before, 4), round(found.after, 4)
        if after < before:
            relation = "below them"
        elif after == before:
            relation = "no better"
        else:
            relation = f"{after - before:.4f} above them"
        verdict = (
            f"{active.version}'s params kept: they score {before:.4f} on dev, the best of "
            f"{evaluations} evaluations {after:.4f} ({relation}); a tune must beat them by "
            f"more than the noise margin {margin}"
        )
        record = self._record(active, found, evaluations, "kept", verdict)

        def note(document: StateDocument) -> tuple[dict[str, Any], dict[str, Any] | None]:
            return document.data, {**(document.tuning or {}), TUNED: record}

        self.manager.update_staging_document(note, actor="tuner")
        self.current = self.current.model_copy(update={"phase": "kept", "reason": verdict})

    def _release(self, active: ActiveState, found: Search, evaluations: int) -> None:
        assert found.best is not None
        names = self.current.params
        reason = (
            f"tuned {len(names)} params after {active.version}: dev {found.before:.4f} -> "
            f"{found.after:.4f} in {evaluations} evaluations"
        )
        record = self._record(active, found, evaluations, "released", reason)
        best = found.best.params
        record["tuned_params"] = values(with_params(active.document.data, best))

        def rebase(document: StateDocument) -> tuple[dict[str, Any], dict[str, Any] | None]:
            document = placed(document, follow(self.manager, document))
            tuned = with_params(document.data, best)
            return tuned, {**(document.tuning or {}), TUNED: record}

        self.manager.update_staging_document(rebase, actor="tuner")
        result = self.promoter.promote(
            ReleaseNote(reason, {"tuned_after": active.version, "tuning": record})
        )
        if result.promoted:
            update = {"phase": "released", "version": result.version, "reason": reason}
        else:
            update = {"phase": "refused", "reason": f"{reason}; not released: {result.reason}"}
        self.current = self.current.model_copy(update=update)
