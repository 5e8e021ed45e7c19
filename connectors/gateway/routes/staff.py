"""Staff API beyond documents: dashboard, hit testing, uploads, questions queue, feedback, tickets,
conversations, accounts and the audit log. The console's pages (``/admin``) are built on these routes.

Roles: ``viewer`` reads everything here except accounts and the audit log, and may hit-test;
``editor`` also uploads, answers and closes tickets; ``admin`` also manages accounts and reads the
audit log. Every route declares its role with ``require`` (a test walks the OpenAPI schema).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import difflib
import json
import logging
import re
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Depends, Query, UploadFile
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from connectors.gateway.auth import hasher, require
from connectors.gateway.deps import StateDep
from connectors.gateway.errors import ApiError
from connectors.gateway.limits import bounded_body
from connectors.gateway.routes.admin import _path_id, _store
from connectors.gateway.state import GatewayState
from knowledge.answers import answer_question  # the bot's own answer rules
from knowledge.errors import KnowledgeError
from knowledge.language import detect_language
from knowledge.store import AuditEvent, Feedback, HandoffTicket, StaffUser, Stats
from knowledge.uploads import MAX_UPLOAD_BYTES, ParsedUpload, UploadError, parse_upload

logger = logging.getLogger(__name__)
# An upload of MAX_UPLOAD_BYTES with its multipart envelope fits; a bigger one is refused as it arrives,
# before it is spooled to disk.
router = APIRouter(
    prefix="/api/v1/admin",
    tags=["admin"],
    route_class=bounded_body(
        MAX_UPLOAD_BYTES + 64 * 1024, f"an upload is at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MB"
    ),
)

Viewer = Annotated[StaffUser, Depends(require("viewer"))]
Editor = Annotated[StaffUser, Depends(require("editor"))]
Admin = Annotated[StaffUser, Depends(require("admin"))]

# --- dashboard ----------------------------------------------------------------------------------


@router.get("/stats", response_model=Stats)
async def stats(state: StateDep, user: Viewer) -> Stats:
    """Questions today and this week, the share answered, thumbs up / down, open handoff tickets."""
    return await asyncio.to_thread(_store(state).stats)


# --- hit testing --------------------------------------------------------------------------------


class HitTestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=2000)
    lang: Literal["en", "zh"] | None = None
    k: int = Field(default=8, ge=1, le=20)


class HitOut(BaseModel):
    rank: int
    doc_id: str
    title: str
    section: str
    lang: str
    text: str
    score: float
    dense_similarity: float
    lexical_coverage: float
    exact_match: bool
    found_by: list[str]
    ranks: dict[str, int]


class HitTestOut(BaseModel):
    question: str
    lang: str
    answered: bool
    reason: str
    hits: list[HitOut]
    answer: dict[str, Any] = Field(description="What the bot would reply: text, buttons, citations")


@router.post("/hit-test", response_model=HitTestOut)
async def hit_test(payload: HitTestIn, state: StateDep, user: Viewer) -> HitTestOut:
    """Rank passages for a question as the bot would, with the evidence behind each rank."""
    if state.retriever is None:
        raise ApiError(503, "index_unavailable", f"The search index is not ready: {state.index_error or 'loading'}.")
    lang = payload.lang or detect_language(payload.question) or "en"
    try:
        preferred, reply = await asyncio.to_thread(
            answer_question, state.retriever, payload.question, lang, k=payload.k
        )
    except KnowledgeError as exc:
        raise ApiError(422, "invalid_query", str(exc)) from exc
    result = preferred
    return HitTestOut(
        question=result.query,
        lang=result.lang,
        answered=result.answered,
        reason=result.reason,
        hits=[
            HitOut(
                rank=rank,
                doc_id=hit.passage.doc_id,
                title=hit.passage.doc_title,
                section=hit.passage.section,
                lang=hit.passage.lang,
                text=hit.passage.text[:600],
                score=hit.score,
                dense_similarity=hit.dense_similarity,
                lexical_coverage=hit.lexical_coverage,
                exact_match=hit.exact_match,
                found_by=hit.found_by,
                ranks=dict(hit.ranks),
            )
            for rank, hit in enumerate(preferred.hits, start=1)
        ],
        answer={
            "outcome": reply.outcome,
            "text": reply.text,
            "buttons": reply.buttons,
            "citations": reply.citations,
        },
    )


# --- uploads ------------------------------------------------------------------------------------


@router.post("/uploads", response_model=ParsedUpload)
async def upload(file: UploadFile, state: StateDep, user: Editor) -> ParsedUpload:
    """Parse an uploaded file to Markdown for review; nothing is published until the editor saves it."""
    content = await file.read(MAX_UPLOAD_BYTES + 1)
    try:
        parsed = await asyncio.to_thread(parse_upload, file.filename or "", content)
    except UploadError as exc:
        status = 413 if exc.code == "too_large" else 415 if exc.code == "unsupported_type" else 422
        raise ApiError(status, exc.code, exc.message) from exc
    await asyncio.to_thread(_store(state).audit, user.username, "upload", parsed.filename, kind=parsed.kind)
    return parsed


# --- questions queue ----------------------------------------------------------------------------


class QueuedQuestion(BaseModel):
    text: str
    lang: str
    at: dt.datetime
    sender_id: str
    kind: Literal["unanswered", "thumbs_down"]
    comment: str | None = None


class QuestionGroup(BaseModel):
    question: str = Field(description="The group's most typical question, to prefill a new document")
    lang: str
    count: int
    doc_ids: list[str] = Field(description="Documents that answered badly (thumbs down), if any")
    questions: list[QueuedQuestion]


def group_questions(
    items: list[QueuedQuestion], vectors: np.ndarray | None, same_question: float = 1.0
) -> list[QuestionGroup]:
    """Single-link grouping: a question joins the group holding its most similar earlier question
    when the cosine similarity is at least ``same_question`` (the embedding model's own bar for two
    wordings of one question, ``Embedder.same_question``). Biggest group first, then newest.

    Without vectors (index not loaded) only identical normalised texts are grouped.
    """
    group_of: list[int] = []
    groups: list[list[int]] = []
    keys: dict[str, int] = {}
    for i, item in enumerate(items):
        key = re.sub(r"[\W_]+", " ", item.text.lower()).strip()
        target = keys.get(key)
        if target is None and vectors is not None and i:
            similarities = vectors[:i] @ vectors[i]
            best = int(np.argmax(similarities))
            if similarities[best] >= same_question:
                target = group_of[best]
        if target is None:
            target = len(groups)
            groups.append([])
        keys.setdefault(key, target)
        group_of.append(target)
        groups[target].append(i)
    result = [
        QuestionGroup(
            question=items[members[-1]].text,  # items come newest first: the oldest wording leads
            lang=items[members[0]].lang,
            count=len(members),
            doc_ids=[],
            questions=[items[m] for m in members],
        )
        for members in groups
    ]
    result.sort(key=lambda g: (-g.count, -max(q.at.timestamp() for q in g.questions)))
    return result


@router.get("/questions", response_model=list[QuestionGroup])
async def questions(
    state: StateDep, user: Viewer, days: Annotated[int, Query(ge=1, le=365)] = 30
) -> list[QuestionGroup]:
    """Unanswered questions and thumbs-down answers of the last ``days``, similar ones grouped."""
    store = _store(state)
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    unanswered = await asyncio.to_thread(store.questions, answered=False, since=since)
    disliked = await asyncio.to_thread(store.feedback, rating="bad", limit=500)
    items = [
        QueuedQuestion(text=q.question, lang=q.lang, at=q.created_at, sender_id=q.sender_id, kind="unanswered")
        for q in unanswered
    ]
    bad_docs: dict[int, list[str]] = {}
    for f in disliked:
        if _aware(f.created_at) >= since:
            bad_docs[len(items)] = list(f.doc_ids or [])
            items.append(
                QueuedQuestion(
                    text=f.question,
                    lang=f.lang,
                    at=f.created_at,
                    sender_id=f.sender_id,
                    kind="thumbs_down",
                    comment=f.comment,
                )
            )
    vectors, same_question = None, 1.0
    if items and state.retriever is not None:
        embedder = state.retriever.embedder
        vectors = await asyncio.to_thread(embedder.encode, [i.text for i in items], kind="query")
        same_question = embedder.same_question
    groups = group_questions(items, vectors, same_question)
    index_of = {id(item): i for i, item in enumerate(items)}
    for group in groups:
        group.doc_ids = sorted({d for q in group.questions for d in bad_docs.get(index_of[id(q)], [])})
    return groups


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite gives back naive datetimes; they were stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


# --- feedback -----------------------------------------------------------------------------------


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
    rows: list[Feedback] = await asyncio.to_thread(_store(state).feedback, rating=rating, limit=limit)
    return [FeedbackOut.model_validate(r, from_attributes=True) for r in rows]


# --- handoff tickets ----------------------------------------------------------------------------


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
    rows = await asyncio.to_thread(_store(state).tickets, status=status, limit=500)
    return [_ticket_out(t) for t in rows]


async def _ticket(state: GatewayState, ticket_id: int) -> HandoffTicket:
    ticket = await asyncio.to_thread(_store(state).ticket, ticket_id)
    if ticket is None:
        raise ApiError(404, "not_found", f"No ticket #{ticket_id}.")
    return ticket


@router.get("/tickets/{ticket_id}", response_model=TicketOut)
async def ticket(ticket_id: int, state: StateDep, user: Viewer) -> TicketOut:
    return _ticket_out(await _ticket(state, ticket_id))


@router.post("/tickets/{ticket_id}/status", response_model=TicketOut)
async def set_ticket_status(ticket_id: int, payload: TicketStatusIn, state: StateDep, user: Editor) -> TicketOut:
    store = _store(state)
    await _ticket(state, ticket_id)
    await asyncio.to_thread(store.set_ticket_status, ticket_id, payload.status)
    await asyncio.to_thread(store.audit, user.username, f"ticket_{payload.status}", f"#{ticket_id}")
    return _ticket_out(await _ticket(state, ticket_id))


@router.post("/tickets/{ticket_id}/reply", response_model=TicketReplyOut)
async def reply_to_ticket(ticket_id: int, payload: TicketReplyIn, state: StateDep, user: Editor) -> TicketReplyOut:
    """Send a staff reply to the trader: at once on Telegram, on the widget's next poll on the web."""
    store = _store(state)
    await _ticket(state, ticket_id)
    if state.telegram is not None:
        outcome = await state.telegram.relay_staff_reply(ticket_id, payload.text, user.username)
    else:
        stored = await asyncio.to_thread(
            store.add_staff_message, ticket_id=ticket_id, text=payload.text, author=user.username
        )
        outcome = "queued" if stored is not None else "unknown"
    await asyncio.to_thread(store.audit, user.username, "ticket_reply", f"#{ticket_id}", outcome=outcome)
    return TicketReplyOut(outcome=outcome)


# --- conversations (read-only, from Rasa's tracker store) -------------------------------------


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


# --- document diff ------------------------------------------------------------------------------


class DiffOut(BaseModel):
    doc_id: str
    from_version: int
    to_version: int
    lines: list[str] = Field(description="Unified diff of the metadata and the body")


def _as_text(data: dict[str, Any]) -> list[str]:
    meta = {k: v for k, v in sorted(data.items()) if k != "body"}
    return [f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in meta.items()] + [
        "",
        *data.get("body", "").splitlines(),
    ]


@router.get("/documents/{doc_id}/diff", response_model=DiffOut)
async def document_diff(
    doc_id: str,
    state: StateDep,
    user: Viewer,
    from_version: Annotated[int, Query(alias="from", ge=1)],
    to_version: Annotated[int, Query(alias="to", ge=1)],
) -> DiffOut:
    rows = {v.version: v for v in await asyncio.to_thread(_store(state).document_versions, _path_id(doc_id))}
    missing = [v for v in (from_version, to_version) if v not in rows]
    if missing:
        raise ApiError(404, "not_found", f"No version {missing[0]} of {doc_id}.")
    lines = difflib.unified_diff(
        _as_text(rows[from_version].data),
        _as_text(rows[to_version].data),
        fromfile=f"v{from_version}",
        tofile=f"v{to_version}",
        lineterm="",
    )
    return DiffOut(doc_id=doc_id, from_version=from_version, to_version=to_version, lines=list(lines))


# --- accounts (admin) ---------------------------------------------------------------------------


class UserOut(BaseModel):
    username: str
    role: str
    active: bool
    created_at: dt.datetime


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(pattern=r"^[A-Za-z0-9_.@-]{3,80}$")
    password: str = Field(min_length=10, max_length=200)
    role: Literal["admin", "editor", "viewer"]


class UserChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["admin", "editor", "viewer"] | None = None
    active: bool | None = None
    password: str | None = Field(default=None, min_length=10, max_length=200)


def _user_out(user: StaffUser) -> UserOut:
    return UserOut.model_validate(user, from_attributes=True)


@router.get("/users", response_model=list[UserOut])
async def users(state: StateDep, user: Admin) -> list[UserOut]:
    return [_user_out(u) for u in await asyncio.to_thread(_store(state).users)]


@router.post("/users", response_model=UserOut, status_code=201)
async def create_user(payload: UserIn, state: StateDep, user: Admin) -> UserOut:
    store = _store(state)
    if await asyncio.to_thread(store.user, payload.username) is not None:
        raise ApiError(409, "user_exists", f"There is already an account {payload.username}.")
    password_hash = await asyncio.to_thread(hasher.hash, payload.password)
    created = await asyncio.to_thread(store.create_user, payload.username, password_hash, payload.role)
    await asyncio.to_thread(store.audit, user.username, "user_create", payload.username, role=payload.role)
    return _user_out(created)


@router.patch("/users/{username}", response_model=UserOut)
async def change_user(username: str, payload: UserChange, state: StateDep, user: Admin) -> UserOut:
    store = _store(state)
    password_hash = await asyncio.to_thread(hasher.hash, payload.password) if payload.password else None
    try:
        changed = await asyncio.to_thread(
            store.update_user, username, role=payload.role, active=payload.active, password_hash=password_hash
        )
    except KeyError as exc:
        raise ApiError(404, "not_found", f"No account {username}.") from exc
    except ValueError as exc:
        raise ApiError(409, "last_admin", str(exc)) from exc
    detail = payload.model_dump(exclude_none=True, exclude={"password"}) | (
        {"password": "changed"} if password_hash else {}
    )
    await asyncio.to_thread(store.audit, user.username, "user_change", username, **detail)
    return _user_out(changed)


# --- audit log (admin) --------------------------------------------------------------------------


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
        _store(state).audit_events, actor=actor, action=action, limit=limit
    )
    return [AuditOut.model_validate(r, from_attributes=True) for r in rows]
