"""The audit log (admin): who did what, newest first."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from connectors.gateway.deps import Admin, StateDep, get_records
from connectors.gateway.limits import STAFF_BODY_LIMIT, bounded_body
from records.models import AuditEvent

router = APIRouter(
    prefix="/api/v1/admin",
    tags=["audit"],
    route_class=bounded_body(STAFF_BODY_LIMIT, "a staff request is a few fields of text"),
)


class AuditOut(BaseModel):
    id: int
    created_at: dt.datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any]


@router.get("/audit", response_model=list[AuditOut])
async def audit(
    state: StateDep,
    user: Admin,
    actor: Annotated[str | None, Query(max_length=80)] = None,
    action: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AuditOut]:
    rows: list[AuditEvent] = await asyncio.to_thread(
        get_records(state).audit_events, actor=actor, action=action, limit=limit
    )
    return [AuditOut.model_validate(r, from_attributes=True) for r in rows]
