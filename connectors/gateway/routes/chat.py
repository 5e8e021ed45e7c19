"""``POST /api/v1/chat``: one user message in, the assistant's replies out.

The gateway owns the session: it issues an unguessable id when none is given and forwards to Rasa
as ``web:<session_id>``, with the channel and requested language in the metadata.
"""

from __future__ import annotations

import logging
import secrets

from fastapi import APIRouter

from connectors.gateway.deps import StateDep
from connectors.gateway.errors import ApiError
from connectors.gateway.rasa_client import EngineUnavailable, to_chat_messages
from connectors.gateway.schemas import ChatRequest, ChatResponse
from knowledge.language import detect_language

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["chat"])

_UNAVAILABLE = {
    "rasa": ("engine_unavailable", "The assistant is not available right now. Please try again in a minute."),
    "actions": (
        "actions_unavailable",
        "The assistant cannot look up answers right now. Please try again in a minute.",
    ),
}


def new_session_id() -> str:
    """192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


@router.post("/chat", response_model=ChatResponse)
async def chat(request: ChatRequest, state: StateDep) -> ChatResponse:
    session_id = request.session_id or new_session_id()
    lang = request.lang or detect_language(request.message)
    metadata = {"channel": "web", **({"lang": lang} if lang else {})}
    try:
        replies = await state.rasa.send(f"web:{session_id}", request.message, metadata)
    except EngineUnavailable as exc:
        logger.warning("chat failed: %s", exc)
        code, message = _UNAVAILABLE["rasa"]
        raise ApiError(503, code, message, headers={"Retry-After": "30"}) from exc
    messages = to_chat_messages(replies)
    if not messages:
        # Every intent has a reply, so silence means the action Rasa chose could not run.
        actions_ok, detail = await state.rasa.check_actions()
        logger.warning("chat got no reply from rasa; action server: %s", detail)
        code, message = _UNAVAILABLE["rasa" if actions_ok else "actions"]
        raise ApiError(503, code, message, headers={"Retry-After": "30"})
    return ChatResponse.model_validate({"session_id": session_id, "messages": messages})
