"""The tables the records store keeps (``records.store.Records``); the table names are the ones the
single store of earlier versions created, so an existing ``assistant.db`` is read as it is."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from knowledge.database import now

TICKET_STATUSES = ("open", "claimed", "closed")
RATINGS = ("good", "bad")
ROLES = ("admin", "editor", "viewer")


class RecordsBase(DeclarativeBase):
    pass


class Feedback(RecordsBase):
    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)
    sender_id: Mapped[str] = mapped_column(String(160), index=True)
    lang: Mapped[str] = mapped_column(String(8))
    rating: Mapped[str] = mapped_column(String(8))
    question: Mapped[str] = mapped_column(Text)
    doc_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)


class HandoffTicket(RecordsBase):
    __tablename__ = "handoff_ticket"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now, onupdate=now)
    sender_id: Mapped[str] = mapped_column(String(160), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    lang: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    question: Mapped[str] = mapped_column(Text, default="")
    transcript: Mapped[list[Any]] = mapped_column(JSON, default=list)


class StaffMessage(RecordsBase):
    """A staff member's reply to a handoff ticket, waiting to be shown in the trader's channel."""

    __tablename__ = "staff_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)
    ticket_id: Mapped[int] = mapped_column(Integer, index=True)
    sender_id: Mapped[str] = mapped_column(String(160), index=True)
    author: Mapped[str] = mapped_column(String(160), default="staff")
    text: Mapped[str] = mapped_column(Text)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SessionPreference(RecordsBase):
    __tablename__ = "session_preference"

    sender_id: Mapped[str] = mapped_column(String(160), primary_key=True)
    lang: Mapped[str] = mapped_column(String(8))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now, onupdate=now)


class StaffUser(RecordsBase):
    __tablename__ = "staff_user"

    username: Mapped[str] = mapped_column(String(80), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)


class QuestionLog(RecordsBase):
    """A question the answer action searched for, and what came of it."""

    __tablename__ = "question_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now, index=True)
    sender_id: Mapped[str] = mapped_column(String(160), index=True)
    lang: Mapped[str] = mapped_column(String(8))
    question: Mapped[str] = mapped_column(Text)
    answered: Mapped[bool] = mapped_column(default=False, index=True)
    doc_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    top_score: Mapped[float | None] = mapped_column(nullable=True)


class AuditEvent(RecordsBase):
    """One staff action: ``actor`` did ``action`` to ``target`` (details in ``detail``)."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now, index=True)
    actor: Mapped[str] = mapped_column(String(160), index=True)
    action: Mapped[str] = mapped_column(String(40), index=True)
    target: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
