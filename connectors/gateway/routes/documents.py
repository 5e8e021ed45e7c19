"""Knowledge documents: create / read / edit / retire / roll back, their versions and diffs.

Every change is a new version in the store (who, when, what) and reaches the search index at once,
incrementally: the gateway embeds only the changed document and saves a new index generation, which
the action server picks up on its next search. No ``rasa train``, no restart.

``DELETE`` retires a document (it stops being served and can be restored or rolled back); nothing
is destroyed. An edit names the version it was based on (``version``, required); if someone saved in
between, it is refused with 409 and nothing is lost.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import difflib
import json
import logging
import re
import unicodedata
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, field_validator

from connectors.gateway.deps import Editor, StateDep, Viewer, get_records, get_store
from connectors.gateway.errors import ApiError
from connectors.gateway.limits import bounded_body
from connectors.gateway.state import GatewayState
from knowledge.documents import Document
from knowledge.store import (
    DocumentRecord,
)

logger = logging.getLogger(__name__)
# The largest document is 100,000 characters (at most 12 bytes each as JSON escapes) plus its fields.
router = APIRouter(
    prefix="/api/v1/admin",
    tags=["documents"],
    route_class=bounded_body(2 * 1024 * 1024, "a document body is at most 100,000 characters"),
)
_DOC_ID = r"^[a-z0-9][a-z0-9-]*\.(en|zh)$"


class DocumentFields(BaseModel):
    """A document as staff write it. Fields not given keep their defaults (on edit, resend them all)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=3, max_length=200)
    body: str = Field(min_length=1, max_length=100_000, description="Markdown; '## ' headings become passages")
    lang: Literal["en", "zh"]
    topic: str = Field(pattern=r"^[a-z][a-z-]*$", max_length=40)
    source_url: HttpUrl
    source_title: str | None = Field(default=None, max_length=300)
    source_date: dt.date | None = None
    title_other_language: str | None = Field(default=None, max_length=200)
    zones: list[Literal["hangzhou", "ningbo", "zhoushan", "jinyi"]] = []
    tags: list[str] = Field(default=[], max_length=40)
    kind: Literal["fact", "howto"] = "fact"
    confidence: Literal["high", "medium", "low"] = "medium"
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    last_reviewed: dt.date | None = None

    @field_validator("source_url")
    @classmethod
    def _http(cls, url: HttpUrl) -> HttpUrl:
        if url.scheme not in ("http", "https"):
            raise ValueError("source_url must be http or https")
        return url


class DocumentCreate(DocumentFields):
    """A new document; its id is ``<slug>.<lang>``, the slug made from the title unless given."""

    slug: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=100)


class DocumentUpdate(DocumentFields):
    """An edit. ``version`` is the one the editor started from: without it a save could silently
    overwrite somebody else's, so it is required, and a stale one is refused (409)."""

    version: int = Field(ge=1, description="The version you started from (GET the document for it)")


class DocumentPublic(BaseModel):
    doc_id: str
    version: int
    status: str
    updated_at: dt.datetime
    updated_by: str
    document: dict[str, Any]


class VersionOut(BaseModel):
    version: int
    status: str
    action: str
    author: str
    created_at: dt.datetime
    document: dict[str, Any]


def slugify(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:60].strip("-")
    return slug or "doc-" + dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")


def to_document(payload: DocumentFields, doc_id: str, existing: dict[str, Any] | None) -> Document:
    """Validate the staff input as a knowledge Document (the same rules as the corpus files)."""
    other = payload.title_other_language or (existing or {}).get("title_zh" if payload.lang == "en" else "title_en")
    data = {
        "id": doc_id,
        "translation": (existing or {}).get("translation"),
        "lang": payload.lang,
        "title": payload.title,
        "title_en": payload.title if payload.lang == "en" else (other or payload.title),
        "title_zh": payload.title if payload.lang == "zh" else (other or payload.title),
        "topic": payload.topic,
        "zones": payload.zones,
        "tags": payload.tags,
        "kind": payload.kind,
        "sources": [
            {
                "url": str(payload.source_url),
                "title": payload.source_title or payload.title,
                "date": payload.source_date,
            }
        ],
        "source_date": payload.source_date,
        "last_reviewed": payload.last_reviewed or dt.date.today(),
        "valid_from": payload.valid_from,
        "valid_until": payload.valid_until,
        "confidence": payload.confidence,
        "body": payload.body,
    }
    try:
        return Document.model_validate(data)
    except ValidationError as exc:
        problem = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'document'}: {e['msg']}" for e in exc.errors()[:5])
        raise ApiError(422, "invalid_document", problem) from exc


def _out(record: DocumentRecord) -> DocumentPublic:
    return DocumentPublic(
        doc_id=record.doc_id,
        version=record.version,
        status=record.status,
        updated_at=record.updated_at,
        updated_by=record.updated_by,
        document=record.data,
    )


async def _reindex(state: GatewayState, upserts: list[Document], deletes: list[str]) -> None:
    """Apply a change to the live index; the store already holds it, so a failure is repairable."""
    if state.retriever is None:
        logger.warning("index not loaded: the change is stored and will be indexed by `knowledge sync`")
        return
    try:
        await asyncio.to_thread(state.retriever.apply, upserts, deletes)
    except Exception as exc:
        logger.exception("the index could not take the change")
        raise ApiError(
            503,
            "index_update_failed",
            "The change is saved but the search index could not be updated; it will be applied at the next start.",
        ) from exc


@router.get("/documents", response_model=list[DocumentPublic])
async def list_documents(
    state: StateDep,
    user: Viewer,
    status: Annotated[Literal["published", "retired"] | None, Query()] = None,
    lang: Annotated[Literal["en", "zh"] | None, Query()] = None,
    topic: Annotated[str | None, Query(max_length=40)] = None,
) -> list[DocumentPublic]:
    records = await asyncio.to_thread(get_store(state).documents, status=status)
    return [
        _out(r)
        for r in records
        if (lang is None or r.data.get("lang") == lang) and (topic is None or r.data.get("topic") == topic)
    ]


@router.post("/documents", response_model=DocumentPublic, status_code=201)
async def create_document(payload: DocumentCreate, state: StateDep, user: Editor) -> DocumentPublic:
    store = get_store(state)
    doc_id = f"{payload.slug or slugify(payload.title)}.{payload.lang}"
    if await asyncio.to_thread(store.document, doc_id) is not None:
        raise ApiError(409, "document_exists", f"{doc_id} already exists: edit it, or choose another slug.")
    # The other language version, if it exists already, becomes this one's translation.
    other = await asyncio.to_thread(
        store.document, f"{doc_id.rsplit('.', 1)[0]}.{'zh' if payload.lang == 'en' else 'en'}"
    )
    linked = None
    if other is not None:
        linked = {"translation": other.doc_id, f"title_{other.data['lang']}": other.data.get("title")}
    document = to_document(payload, doc_id, linked)
    record = await asyncio.to_thread(
        store.save_document,
        document.model_dump(mode="json"),
        author=user.username,
        expected_version=None,
        create=True,
    )  # an existing document: VersionConflict "document_exists", 409
    await asyncio.to_thread(get_records(state).audit, user.username, "document_create", doc_id, version=record.version)
    await _reindex(state, [document], [])
    logger.info("%s created %s", user.username, doc_id)
    return _out(record)


def _path_id(doc_id: str) -> str:
    if not re.match(_DOC_ID, doc_id):
        raise ApiError(422, "invalid_doc_id", "doc_id is <slug>.<en|zh>, for example customs-9610.en")
    return doc_id


@router.get("/documents/{doc_id}", response_model=DocumentPublic)
async def get_document(doc_id: str, state: StateDep, user: Viewer) -> DocumentPublic:
    record = await asyncio.to_thread(get_store(state).document, _path_id(doc_id))
    if record is None:
        raise ApiError(404, "not_found", f"No document {doc_id}.")
    return _out(record)


@router.put("/documents/{doc_id}", response_model=DocumentPublic)
async def update_document(doc_id: str, payload: DocumentUpdate, state: StateDep, user: Editor) -> DocumentPublic:
    store = get_store(state)
    existing = await asyncio.to_thread(store.document, _path_id(doc_id))
    if existing is None:
        raise ApiError(404, "not_found", f"No document {doc_id}.")
    if payload.lang != existing.data.get("lang"):
        raise ApiError(422, "invalid_document", "lang cannot change: create the other language version instead")
    document = to_document(payload, doc_id, existing.data)
    record = await asyncio.to_thread(
        store.save_document,
        document.model_dump(mode="json"),
        author=user.username,
        expected_version=payload.version,
    )  # someone saved in between: VersionConflict "edit_conflict", 409
    await asyncio.to_thread(get_records(state).audit, user.username, "document_edit", doc_id, version=record.version)
    await _reindex(state, [document], [])
    logger.info("%s edited %s (v%d)", user.username, doc_id, record.version)
    return _out(record)


@router.delete("/documents/{doc_id}", response_model=DocumentPublic)
async def retire_document(doc_id: str, state: StateDep, user: Editor) -> DocumentPublic:
    """Retire: no longer answered from, kept with its history, restorable by rollback."""
    store = get_store(state)
    record = await asyncio.to_thread(store.set_document_status, _path_id(doc_id), "retired", author=user.username)
    await asyncio.to_thread(get_records(state).audit, user.username, "document_retire", doc_id, version=record.version)
    await _reindex(state, [], [doc_id])
    logger.info("%s retired %s", user.username, doc_id)
    return _out(record)


@router.get("/documents/{doc_id}/versions", response_model=list[VersionOut])
async def document_versions(doc_id: str, state: StateDep, user: Viewer) -> list[VersionOut]:
    rows = await asyncio.to_thread(get_store(state).document_versions, _path_id(doc_id))
    if not rows:
        raise ApiError(404, "not_found", f"No document {doc_id}.")
    return [
        VersionOut(
            version=r.version,
            status=r.status,
            action=r.action,
            author=r.author,
            created_at=r.created_at,
            document=r.data,
        )
        for r in rows
    ]


@router.post("/documents/{doc_id}/rollback", response_model=DocumentPublic)
async def rollback_document(
    doc_id: str, state: StateDep, user: Editor, version: Annotated[int, Query(ge=1)]
) -> DocumentPublic:
    """Make an earlier version current again (as a new version)."""
    store = get_store(state)
    record = await asyncio.to_thread(store.rollback_document, _path_id(doc_id), version, author=user.username)
    await asyncio.to_thread(
        get_records(state).audit, user.username, "document_rollback", doc_id, to_version=version, version=record.version
    )
    if record.status == "published":
        await _reindex(state, [Document.model_validate(record.data)], [])
    else:
        await _reindex(state, [], [doc_id])
    return _out(record)


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
    rows = {v.version: v for v in await asyncio.to_thread(get_store(state).document_versions, _path_id(doc_id))}
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
