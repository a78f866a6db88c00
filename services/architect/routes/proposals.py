"""``GET /proposals``: the ledger of every candidate proposed, newest first, paginated."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ..models import ProposalPage
from . import Context

router = APIRouter(tags=["proposals"])


@router.get("/proposals", response_model=ProposalPage, summary="The proposal ledger")
def list_proposals(
    ctx: Context,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[int | None, Query(ge=1, description="`next` of the previous page.")] = None,
    base_version: Annotated[
        str | None, Query(pattern=r"^v\d+\.\d+\.\d+$", description="Only on this base.")
    ] = None,
    result: Annotated[str | None, Query(pattern=r"^(kept|lost|rejected|failed)$")] = None,
) -> ProposalPage:
    """What every job tried (template, diff fingerprint), on which base, with what result."""
    entries = ctx.ledger.entries(
        limit=limit + 1, before=cursor, base_version=base_version, result=result
    )
    page = entries[:limit]
    more = len(entries) > limit
    return ProposalPage(proposals=page, next=page[-1].seq if more else None)
