"""Hit testing: the ranked passages for a question, with their evidence, and the bot's own answer."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from connectors.gateway.deps import StateDep, Viewer
from connectors.gateway.errors import ApiError
from connectors.gateway.limits import STAFF_BODY_LIMIT, bounded_body
from knowledge.answers import answer_question
from knowledge.language import detect_language

router = APIRouter(
    prefix="/api/v1/admin",
    tags=["hit testing"],
    route_class=bounded_body(STAFF_BODY_LIMIT, "a staff request is a few fields of text"),
)


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
    preferred, reply = await asyncio.to_thread(answer_question, state.retriever, payload.question, lang, k=payload.k)
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
