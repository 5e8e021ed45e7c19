"""Conversations: read-only transcripts from Rasa's tracker store, searchable by text or session."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from connectors.gateway.deps import StateDep, Viewer
from connectors.gateway.errors import ApiError
from connectors.gateway.limits import STAFF_BODY_LIMIT, bounded_body
from connectors.gateway.state import GatewayState

logger = logging.getLogger(__name__)
router = APIRouter(
    prefix="/api/v1/admin",
    tags=["conversations"],
    route_class=bounded_body(STAFF_BODY_LIMIT, "a staff request is a few fields of text"),
)


class ConversationOut(BaseModel):
    sender_id: str
    last_at: dt.datetime
    messages: int
    preview: str


class TurnOut(BaseModel):
    at: dt.datetime
    who: Literal["user", "bot"]
    text: str


_tracker_engines: dict[str, Engine] = {}


def _tracker(state: GatewayState) -> Engine:
    url = state.settings.tracker_url
    if url not in _tracker_engines:
        _tracker_engines[url] = create_engine(url, pool_pre_ping=True)
    return _tracker_engines[url]


def _read_conversations(engine: Engine, query: str, limit: int) -> list[ConversationOut]:
    sql = (
        "SELECT sender_id, MAX(timestamp) AS last_at, COUNT(*) AS messages FROM events "
        "WHERE type_name = 'user' {where} GROUP BY sender_id ORDER BY last_at DESC LIMIT :limit"
    )
    params: dict[str, Any] = {"limit": limit}
    where = ""
    if query:
        where = "AND (sender_id LIKE :q OR sender_id IN (SELECT sender_id FROM events WHERE data LIKE :q))"
        params["q"] = f"%{query}%"
    with engine.connect() as connection:
        rows = connection.execute(text(sql.format(where=where)), params).all()
        result = []
        for sender_id, last_at, count in rows:
            last = connection.execute(
                text("SELECT data FROM events WHERE sender_id = :s AND type_name = 'user' ORDER BY id DESC LIMIT 1"),
                {"s": sender_id},
            ).scalar()
            result.append(
                ConversationOut(
                    sender_id=sender_id,
                    last_at=dt.datetime.fromtimestamp(float(last_at), dt.UTC),
                    messages=int(count),
                    preview=(json.loads(last or "{}").get("text") or "")[:120],
                )
            )
    return result


def _read_transcript(engine: Engine, sender_id: str) -> list[TurnOut]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT type_name, timestamp, data FROM events WHERE sender_id = :s "
                "AND type_name IN ('user', 'bot') ORDER BY id LIMIT 2000"
            ),
            {"s": sender_id},
        ).all()
    turns = []
    for kind, timestamp, data in rows:
        event = json.loads(data or "{}")
        if event.get("text"):
            turns.append(TurnOut(at=dt.datetime.fromtimestamp(float(timestamp), dt.UTC), who=kind, text=event["text"]))
    return turns


def _tracker_error(exc: Exception) -> ApiError:
    logger.warning("tracker store unreadable: %s", exc)
    return ApiError(503, "tracker_unavailable", "Conversations cannot be read right now (the tracker store is down).")


@router.get("/conversations", response_model=list[ConversationOut])
async def conversations(
    state: StateDep,
    user: Viewer,
    q: Annotated[str, Query(max_length=200, description="Text in any message, or part of a session id")] = "",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ConversationOut]:
    try:
        return await asyncio.to_thread(_read_conversations, _tracker(state), q, limit)
    except Exception as exc:
        if "no such table" in str(exc):
            return []  # Rasa has not stored a conversation yet
        raise _tracker_error(exc) from exc


@router.get("/conversations/{sender_id}", response_model=list[TurnOut])
async def conversation(sender_id: str, state: StateDep, user: Viewer) -> list[TurnOut]:
    if len(sender_id) > 160:
        raise ApiError(422, "invalid_sender", "A session id is at most 160 characters.")
    try:
        turns = await asyncio.to_thread(_read_transcript, _tracker(state), sender_id)
    except Exception as exc:
        raise _tracker_error(exc) from exc
    if not turns:
        raise ApiError(404, "not_found", f"No conversation {sender_id}.")
    return turns
