"""``POST /api/v1/chat``: one user message in, the assistant's replies out.

The gateway owns the session: it issues an unguessable id when none is given and forwards to Rasa
as ``web:<session_id>``, with the channel in the metadata and the reply language when it is known:
asked for in the request, or chosen earlier in the session ("/lang zh", "answer in English"), which
the gateway keeps in the store. Otherwise Rasa detects it from the message.
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter

from connectors.conversation import Component, TurnFailed
from connectors.gateway.deps import StateDep
from connectors.gateway.errors import ApiError
from connectors.gateway.limits import bounded_body
from connectors.gateway.schemas import MAX_MESSAGE_CHARS, ChatRequest, ChatResponse
from knowledge.language import detect_language

# The largest valid request is MAX_MESSAGE_CHARS (2000) characters of at most 12 bytes each as JSON
# escapes, plus the other fields.
MAX_BODY_BYTES = 64 * 1024

router = APIRouter(
    prefix="/api/v1",
    tags=["chat"],
    route_class=bounded_body(MAX_BODY_BYTES, f"a message is at most {MAX_MESSAGE_CHARS} characters"),
)

# The refusal a user sees (the widget shows the message with a Retry button), in their language.
_UNAVAILABLE = {
    "rasa": (
        "engine_unavailable",
        {
            "en": "The assistant is not available right now. Please try again in a minute.",
            "zh": "助手暂时无法回答，请一分钟后再试。",
        },
    ),
    "actions": (
        "actions_unavailable",
        {
            "en": "The assistant cannot look up answers right now. Please try again in a minute.",
            "zh": "助手暂时无法查询答案，请一分钟后再试。",
        },
    ),
}


def unavailable(component: Component, lang: str | None, message: str) -> ApiError:
    """503 naming what is down, with a polite message in the user's language, and when to retry."""
    code, texts = _UNAVAILABLE[component]
    text = texts.get(lang or detect_language(message) or "en", texts["en"])
    return ApiError(503, code, text, headers={"Retry-After": "30"})


def new_session_id() -> str:
    """192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


@router.post("/chat", response_model=ChatResponse)
async def chat(request: ChatRequest, state: StateDep) -> ChatResponse:
    session_id = request.session_id or new_session_id()
    try:
        turn = await state.conversations.turn(f"web:{session_id}", request.message, "web", request.lang)
    except TurnFailed as exc:
        raise unavailable(exc.component, exc.lang, request.message) from exc
    if state.telegram is not None:
        state.telegram.notify_handoffs(turn.replies)  # posts new handoff tickets to the staff chat, in the background
    return ChatResponse.model_validate({"session_id": session_id, "messages": turn.messages})
