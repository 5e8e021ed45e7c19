"""Feedback: thumbs up and down with the question, the cited documents and any comment."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from connectors.gateway.deps import StateDep, Viewer, get_records
from connectors.gateway.limits import STAFF_BODY_LIMIT, bounded_body
from records.models import Feedback

router = APIRouter(
    prefix="/api/v1/admin",
    tags=["feedback"],
    route_class=bounded_body(STAFF_BODY_LIMIT, "a staff request is a few fields of text"),
)


class FeedbackOut(BaseModel):
    id: int
    created_at: dt.datetime
    sender_id: str
    lang: str
    rating: str
    question: str
    doc_ids: list[str]
    comment: str | None


@router.get("/feedback", response_model=list[FeedbackOut])
async def feedback(
    state: StateDep,
    user: Viewer,
    rating: Annotated[Literal["good", "bad"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[FeedbackOut]:
    rows: list[Feedback] = await asyncio.to_thread(get_records(state).feedback, rating=rating, limit=limit)
    return [FeedbackOut.model_validate(r, from_attributes=True) for r in rows]
