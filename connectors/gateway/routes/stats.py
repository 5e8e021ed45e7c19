"""The console dashboard: questions today and this week, answered share, thumbs, open tickets."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from connectors.gateway.deps import StateDep, Viewer, get_records
from connectors.gateway.limits import STAFF_BODY_LIMIT, bounded_body
from records.store import Stats

router = APIRouter(
    prefix="/api/v1/admin",
    tags=["stats"],
    route_class=bounded_body(STAFF_BODY_LIMIT, "a staff request is a few fields of text"),
)


@router.get("/stats", response_model=Stats)
async def stats(state: StateDep, user: Viewer) -> Stats:
    """Questions today and this week, the share answered, thumbs up / down, open handoff tickets."""
    return await asyncio.to_thread(get_records(state).stats)
