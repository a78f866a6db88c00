"""The Tuner's MCP server: the tools of :mod:`services.tuner.tools` over one shared context.

Architect-editable: a later version may add tools (a module in ``tools/``
with a ``register`` function, listed in ``TOOLS``).
"""

from __future__ import annotations

from pathlib import Path

from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

import ratchet
from ratchet import datasets
from ratchet.bootstrap import release_store
from ratchet.builds import BuildStore
from ratchet.objects import open_object_store
from ratchet.rollouts.delivery import Deliverer
from ratchet.secrets import signing_key
from ratchet.sessions import SessionStore
from ratchet.state import StateManager, open_state_manager
from ratchet.tasks import ACTIVE_FILE

from .applier import Applier
from .autopromote import AutoPromoter
from .context import TunerContext
from .intake import Intake
from .promotion import Promoter
from .release_tuning import ReleaseTuner
from .scoring import DevScorer
from .settings import TunerSettings
from .tools import (
    bandits,
    cmaes,
    feedback,
    preferences,
    promote,
    rules,
    status,
    tune_release,
)
from .tools.studies import StudyStore
from .tools.tune import ParamTuner

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# In the order the tools are listed to clients.
TOOLS = (feedback, status, promote, tune_release, bandits, cmaes, preferences, rules)


def served_root(settings: TunerSettings) -> Path:
    """The tree whose task this Tuner serves: the home's workspace once ``ratchet init``
    made it (a home may serve another task than this checkout's), else this checkout."""
    workspace = settings.workspace_path
    return workspace if (workspace / ACTIVE_FILE).is_file() else PROJECT_ROOT


def build_context(
    settings: TunerSettings, manager: StateManager, sessions: SessionStore
) -> TunerContext:
    root = served_root(settings)
    task = datasets.task(root)
    labels = task.labels
    intake = Intake(sessions, manager, labels, oos_label=task.oos_label, task=task.name)
    builds = BuildStore.open(settings)
    objects = open_object_store(settings)
    promoter = Promoter(
        manager,
        intake,
        release_store(settings),
        builds,
        root,
        objects,
        Deliverer.of(settings, manager),
    )
    auto = AutoPromoter(promoter, settings.auto_promote_every)
    scorer = DevScorer(manager, builds, root)
    secret = settings.state_key
    key = signing_key(
        settings.home_path, "tuner-state", secret.get_secret_value() if secret else None
    )
    studies = StudyStore(objects, key)
    param_tuner = ParamTuner(studies, manager, scorer)
    return TunerContext(
        settings=settings,
        manager=manager,
        sessions=sessions,
        objects=objects,
        intake=intake,
        scorer=scorer,
        labels=frozenset(labels),
        promoter=promoter,
        applier=Applier(intake, on_applied=auto.notice),
        auto=auto,
        studies=studies,
        param_tuner=param_tuner,
        release_tuner=ReleaseTuner(manager, param_tuner, promoter),
    )


def build_server(
    settings: TunerSettings, manager: StateManager, sessions: SessionStore
) -> MCPServer:
    server = MCPServer(
        "ratchet-tuner",
        version=ratchet.__version__,
        instructions="Turns structured feedback on the Runner's answers into tuned state.",
        log_level="WARNING",
    )
    context = build_context(settings, manager, sessions)
    for tools in TOOLS:
        tools.register(server, context)
    server.custom_route("/healthz", methods=["GET"])(healthz)
    return server


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def create_app(settings: TunerSettings) -> Starlette:
    manager = open_state_manager(settings)
    manager.repair()  # a Tuner killed mid-write left derived files behind: fix them first
    sessions = SessionStore.open(settings)
    server = build_server(settings, manager, sessions)
    return server.streamable_http_app(json_response=True, stateless_http=True, host=settings.host)
