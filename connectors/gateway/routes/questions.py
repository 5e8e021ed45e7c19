"""The questions queue: unanswered questions and thumbs-down answers, grouped by meaning, biggest gap first."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from connectors.gateway.deps import StateDep, Viewer, get_records
from connectors.gateway.limits import STAFF_BODY_LIMIT, bounded_body

router = APIRouter(
    prefix="/api/v1/admin",
    tags=["questions"],
    route_class=bounded_body(STAFF_BODY_LIMIT, "a staff request is a few fields of text"),
)


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
    records = get_records(state)
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    unanswered = await asyncio.to_thread(records.questions, answered=False, since=since)
    disliked = await asyncio.to_thread(records.feedback, rating="bad", limit=500)
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
