"""Handoff tickets: claim, close, and reply (the reply reaches the trader on their channel)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from connectors.gateway.deps import Editor, StateDep, Viewer, get_records
from connectors.gateway.errors import ApiError
from connectors.gateway.limits import STAFF_BODY_LIMIT, bounded_body
from connectors.gateway.state import GatewayState
from records.models import HandoffTicket

router = APIRouter(
    prefix="/api/v1/admin",
    tags=["tickets"],
    route_class=bounded_body(STAFF_BODY_LIMIT, "a staff request is a few fields of text"),
)


class TicketOut(BaseModel):
    id: int
    created_at: dt.datetime
    updated_at: dt.datetime
    sender_id: str
    channel: str
    lang: str
    status: str
    question: str
    transcript: list[dict[str, Any]]


class TicketStatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["open", "claimed", "closed"]


class TicketReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=4000)


class TicketReplyOut(BaseModel):
    outcome: str = Field(description="delivered (Telegram), queued (the widget shows it on its next poll), blocked")


def _ticket_out(ticket: HandoffTicket) -> TicketOut:
    return TicketOut.model_validate(ticket, from_attributes=True)


@router.get("/tickets", response_model=list[TicketOut])
async def tickets(
    state: StateDep, user: Viewer, status: Annotated[Literal["open", "claimed", "closed"] | None, Query()] = None
) -> list[TicketOut]:
    rows = await asyncio.to_thread(get_records(state).tickets, status=status, limit=500)
    return [_ticket_out(t) for t in rows]


async def _ticket(state: GatewayState, ticket_id: int) -> HandoffTicket:
    ticket = await asyncio.to_thread(get_records(state).ticket, ticket_id)
    if ticket is None:
        raise ApiError(404, "not_found", f"No ticket #{ticket_id}.")
    return ticket


@router.get("/tickets/{ticket_id}", response_model=TicketOut)
async def ticket(ticket_id: int, state: StateDep, user: Viewer) -> TicketOut:
    return _ticket_out(await _ticket(state, ticket_id))


@router.post("/tickets/{ticket_id}/status", response_model=TicketOut)
async def set_ticket_status(ticket_id: int, payload: TicketStatusIn, state: StateDep, user: Editor) -> TicketOut:
    records = get_records(state)
    await _ticket(state, ticket_id)
    await asyncio.to_thread(records.set_ticket_status, ticket_id, payload.status)
    await asyncio.to_thread(records.audit, user.username, f"ticket_{payload.status}", f"#{ticket_id}")
    return _ticket_out(await _ticket(state, ticket_id))


@router.post("/tickets/{ticket_id}/reply", response_model=TicketReplyOut)
async def reply_to_ticket(ticket_id: int, payload: TicketReplyIn, state: StateDep, user: Editor) -> TicketReplyOut:
    """Send a staff reply to the trader: at once on Telegram, on the widget's next poll on the web."""
    records = get_records(state)
    await _ticket(state, ticket_id)
    if state.telegram is not None:
        outcome = await state.telegram.relay_staff_reply(ticket_id, payload.text, user.username)
    else:
        stored = await asyncio.to_thread(
            records.add_staff_message, ticket_id=ticket_id, text=payload.text, author=user.username
        )
        outcome = "queued" if stored is not None else "unknown"
    await asyncio.to_thread(records.audit, user.username, "ticket_reply", f"#{ticket_id}", outcome=outcome)
    return TicketReplyOut(outcome=outcome)
