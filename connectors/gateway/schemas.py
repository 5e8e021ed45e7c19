"""Request and response bodies of the public API (the contract in shared/guides/architecture.md)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

MAX_MESSAGE_CHARS = 2000
SESSION_ID_PATTERN = r"^[A-Za-z0-9_-]{16,128}$"
_SESSION_ID = re.compile(SESSION_ID_PATTERN)


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(description="What the user typed, 1 to 2000 characters.")
    session_id: str | None = Field(default=None, description="Omit to start a new conversation.")
    lang: Literal["en", "zh"] | None = Field(default=None, description="Reply language; detected when null.")

    @field_validator("message", mode="before")
    @classmethod
    def _message(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip()
            if not value:
                raise PydanticCustomError("empty_message", "the message is empty: type a question")
            if len(value) > MAX_MESSAGE_CHARS:
                raise PydanticCustomError(
                    "message_too_long",
                    "the message is {length} characters long; the limit is {limit}",
                    {"length": len(value), "limit": MAX_MESSAGE_CHARS},
                )
        return value

    @field_validator("session_id")
    @classmethod
    def _session(cls, value: str | None) -> str | None:
        if value is not None and not _SESSION_ID.match(value):
            raise PydanticCustomError(
                "invalid_session_id",
                "session_id must be 16 to 128 letters, digits, '-' or '_' (omit it to start a new session)",
            )
        return value


class Button(BaseModel):
    title: str
    payload: str


class Citation(BaseModel):
    doc_id: str
    title: str
    source_url: str | None


class ChatMessage(BaseModel):
    text: str
    buttons: list[Button] = []
    citations: list[Citation] = []


class ChatResponse(BaseModel):
    session_id: str
    messages: list[ChatMessage]


class UpdatesResponse(BaseModel):
    """Messages for a session that arrived outside a chat request (staff replies to a handoff)."""

    session_id: str
    messages: list[ChatMessage]


class SearchHit(BaseModel):
    doc_id: str
    title: str
    text: str
    lang: str
    source_url: str | None
    score: float


class SearchResponse(BaseModel):
    query: str
    answered: bool
    hits: list[SearchHit]


class HealthResponse(BaseModel):
    status: Literal["ok", "degraded"]
    components: dict[str, str]
