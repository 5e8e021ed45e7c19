"""``GET /api/v1/search``: the knowledge search itself, for tools and the staff console."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query

from connectors.gateway.deps import StateDep
from connectors.gateway.errors import ApiError
from connectors.gateway.schemas import SearchHit, SearchResponse

router = APIRouter(prefix="/api/v1", tags=["search"])


@router.get("/search", response_model=SearchResponse)
async def search(
    state: StateDep,
    q: Annotated[str, Query(description="The question or keywords.", max_length=10000)],
    k: Annotated[int, Query(description="How many hits, 1 to 50.")] = 5,
    lang: Annotated[str | None, Query(description="en or zh; detected when omitted.")] = None,
    topic: Annotated[str | None, Query(description="Only this topic (e.g. customs, odi).")] = None,
    zone: Annotated[str | None, Query(description="Only this zone: hangzhou, ningbo, zhoushan, jinyi.")] = None,
) -> SearchResponse:
    retriever = state.retriever
    if retriever is None:
        raise ApiError(503, "index_unavailable", f"the search index is not available: {state.index_error}")
    await asyncio.to_thread(retriever.refresh)
    result = await asyncio.to_thread(retriever.search, q, k=k, lang=lang or None, topic=topic, zone=zone)
    return SearchResponse(
        query=result.query,
        answered=result.answered,
        hits=[
            SearchHit(
                doc_id=h.passage.doc_id,
                title=h.passage.doc_title,
                text=h.passage.text,
                lang=h.passage.lang,
                source_url=h.passage.source_url,
                score=h.score,
            )
            for h in result.hits
        ],
    )
