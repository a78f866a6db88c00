"""``/versions``: the releases, the active one, a release's evals and diff.

``/versions/active`` is declared before ``/versions/{v}``: routes match in
order, and ``active`` would otherwise be read as a (malformed) version.
Versions in paths are checked by the registry, not by FastAPI, so a bad one
is a 400 that says which form is expected.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from ratchet.vcs import ReleaseKind

from ..etags import NOT_MODIFIED, etagged
from ..models import (
    CONVERSATION_PATTERN,
    VERSION_PATTERN,
    ActiveVersion,
    EvalReport,
    Problem,
    ReleaseLineage,
    VersionDetail,
    VersionDiff,
    VersionPage,
)
from . import Registry

router = APIRouter(tags=["versions"])

MAX_LIMIT = 500

BAD: dict[int | str, dict[str, Any]] = {400: {"model": Problem, "description": "Malformed input."}}
MISSING: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No such release (or nothing recorded for it)."}
}
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": Problem, "description": "No workspace yet: run `ratchet init`."}
}

VersionParam = Annotated[
    str,
    Path(
        description="A release, vMAJOR.MINOR.PATCH.",
        json_schema_extra={"pattern": VERSION_PATTERN},
        examples=["v0.1.0"],
    ),
]


@router.get(
    "/versions",
    response_model=VersionPage,
    responses={**NOT_MODIFIED, **BAD, **UNAVAILABLE},
    summary="Every release, newest first",
)
def list_versions(
    request: Request,
    registry: Registry,
    kind: Annotated[ReleaseKind | None, Query(description="Only this kind.")] = None,
    author: Annotated[
        str | None, Query(max_length=64, description="Only this author (tuner, architect, human).")
    ] = None,
    cursor: Annotated[
        str | None,
        Query(
            description="The `next` of the previous page: releases older than this version.",
            json_schema_extra={"pattern": VERSION_PATTERN},
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")] = 50,
    learned_from: Annotated[
        str | None,
        Query(
            pattern=CONVERSATION_PATTERN,
            description="Only the releases that learned from this conversation "
            "(whose tag names it among the feedback it was made from).",
        ),
    ] = None,
) -> Response:
    """Releases from the workspace's tags. Lightweight or unparsable `v*` tags are not
    releases: they are reported under `flagged`, never listed."""
    page = registry.page(
        kind=kind, author=author, cursor=cursor, limit=limit, learned_from=learned_from
    )
    return etagged(request, page)


@router.get(
    "/versions/active",
    response_model=ActiveVersion,
    responses={**NOT_MODIFIED, **MISSING, **UNAVAILABLE},
    summary="The version the fleet serves",
)
def active_version(request: Request, registry: Registry) -> Response:
    """The active pointer: version, commit, state revision, pinned, and who moved it."""
    return etagged(request, registry.active())


@router.get(
    "/versions/{v}",
    response_model=VersionDetail,
    responses={**NOT_MODIFIED, **BAD, **MISSING, **UNAVAILABLE},
    summary="One release",
)
def get_version(request: Request, registry: Registry, v: VersionParam) -> Response:
    """Tag metadata, commit, parent and children, changelog, linked job or feedback."""
    return etagged(request, registry.detail(v))


@router.get(
    "/versions/{v}/evals",
    response_model=EvalReport,
    responses={**NOT_MODIFIED, **BAD, **MISSING, **UNAVAILABLE},
    summary="A release's eval summary",
)
def get_evals(request: Request, registry: Registry, v: VersionParam) -> Response:
    """The summary at `evals/{commit}/summary.json` and the key metrics found in it."""
    return etagged(request, registry.eval_report(v))


@router.get(
    "/versions/{v}/learned-from",
    response_model=ReleaseLineage,
    responses={**NOT_MODIFIED, **BAD, **MISSING, **UNAVAILABLE},
    summary="The feedback a release learned from",
)
def get_lineage(request: Request, registry: Registry, v: VersionParam) -> Response:
    """The conversations, turns and route-call trace ids the release's tag names (the
    first 100 and a total); 404 for a release that names none."""
    return etagged(request, registry.lineage(v))


@router.get(
    "/versions/{v}/diff",
    response_model=VersionDiff,
    responses={**NOT_MODIFIED, **BAD, **MISSING, **UNAVAILABLE},
    summary="What changed between two releases",
)
def get_diff(
    request: Request,
    registry: Registry,
    v: VersionParam,
    against: Annotated[
        str | None,
        Query(
            description="The release to compare with (default: the parent).",
            json_schema_extra={"pattern": VERSION_PATTERN},
        ),
    ] = None,
) -> Response:
    """Files changed from `against` to `v` (git diff) and the changed paths of
    `state/active.state.json`."""
    return etagged(request, registry.diff(v, against))
