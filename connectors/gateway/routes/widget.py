"""The embeddable chat widget (``/widget.js``), its demo page (``/``) and the staff-reply poll.

``/widget.js`` is a static file with caching headers (an ETag, and an hour of browser cache: a new
release reaches visitors within the hour). Which sites may call the chat API from a browser is the
``widget_allowed_origins`` setting (CORS, in ``main.py``). ``/api/v1/chat/updates`` hands the widget
the staff replies to a handoff ticket that it has not shown yet.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import FileResponse

from connectors.gateway.deps import StateDep
from connectors.gateway.errors import ApiError
from connectors.gateway.schemas import SESSION_ID_PATTERN, ChatMessage, UpdatesResponse

logger = logging.getLogger(__name__)
router = APIRouter(tags=["widget"])
STATIC = Path(__file__).resolve().parent.parent / "static"


_INCLUDE = re.compile(rb"/\* @include ([a-z-]+\.js) \*/")


@lru_cache(maxsize=8)
def _static(name: str, mtime_ns: int) -> tuple[bytes, str]:
    """A static file's bytes, with ``/* @include x.js */`` lines replaced by that file, and its ETag.

    ``mtime_ns`` is the newest modification time of the files involved, so an edit is re-read.
    """
    body = _INCLUDE.sub(lambda m: (STATIC / m.group(1).decode()).read_bytes(), (STATIC / name).read_bytes())
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def static_file(name: str, if_none_match: str | None, media_type: str) -> Response:
    """A static file (assembled by ``_static``) with an ETag and an hour of browser cache."""
    mtime = max(path.stat().st_mtime_ns for path in STATIC.iterdir())
    body, etag = _static(name, mtime)
    headers = {"Cache-Control": "public, max-age=3600", "ETag": etag, "X-Content-Type-Options": "nosniff"}
    if if_none_match and etag in [tag.strip() for tag in if_none_match.split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


@router.get("/widget.js", include_in_schema=False)
async def widget_js(if_none_match: Annotated[str | None, Header()] = None) -> Response:
    return static_file("widget.js", if_none_match, "application/javascript; charset=utf-8")


@router.get("/", include_in_schema=False)
async def demo_page() -> FileResponse:
    return FileResponse(
        STATIC / "demo.html",
        media_type="text/html; charset=utf-8",
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/api/v1/chat/updates", response_model=UpdatesResponse)
async def chat_updates(
    state: StateDep, session_id: Annotated[str, Query(pattern=SESSION_ID_PATTERN, description="The chat session id.")]
) -> UpdatesResponse:
    """Staff replies to this session's handoff ticket that the widget has not shown yet."""
    if state.records is None:
        raise ApiError(503, "store_unavailable", "Staff replies cannot be fetched right now. Please try again later.")
    try:
        rows = await asyncio.to_thread(state.records.take_staff_messages, f"web:{session_id}")
    except Exception as exc:
        logger.exception("could not read staff replies")
        raise ApiError(503, "store_unavailable", "Staff replies cannot be fetched right now.") from exc
    messages = [ChatMessage(text=row.text, buttons=[], citations=[]) for row in rows]
    return UpdatesResponse(session_id=session_id, messages=messages)
