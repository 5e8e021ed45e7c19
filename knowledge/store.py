"""The assistant's database of record for what happens around the answers (SQLAlchemy).

It holds what staff read in the console and what must survive a restart:

- ``feedback``: a trader's thumbs up or down on an answer, with the question, the documents the
  answer came from, the session and an optional comment;
- ``handoff_ticket``: a request for a person, with the transcript so far;
- ``session_preference``: a language a trader chose explicitly ("/lang zh"), which then wins over
  detecting the language of each message.

SQLite under ``DATA_DIR`` by default (WAL mode, so the gateway and the action server can both
write), PostgreSQL for the scale-out profile: the URL is the ``database_url`` setting. The action
server and the gateway each open their own ``Store``; every method is one short transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, Text, create_engine, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from knowledge.settings import KnowledgeSettings

TICKET_STATUSES = ("open", "claimed", "closed")
RATINGS = ("good", "bad")
MAX_COMMENT_CHARS = 2000
MAX_TRANSCRIPT_TURNS = 60


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    pass


class Feedback(Base):
    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    sender_id: Mapped[str] = mapped_column(String(160), index=True)
    lang: Mapped[str] = mapped_column(String(8))
    rating: Mapped[str] = mapped_column(String(8))
    question: Mapped[str] = mapped_column(Text)
    doc_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)


class HandoffTicket(Base):
    __tablename__ = "handoff_ticket"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)
    sender_id: Mapped[str] = mapped_column(String(160), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    lang: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    question: Mapped[str] = mapped_column(Text, default="")
    transcript: Mapped[list[Any]] = mapped_column(JSON, default=list)


class StaffMessage(Base):
    """A staff member's reply to a handoff ticket, waiting to be shown in the trader's channel."""

    __tablename__ = "staff_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    ticket_id: Mapped[int] = mapped_column(Integer, index=True)
    sender_id: Mapped[str] = mapped_column(String(160), index=True)
    author: Mapped[str] = mapped_column(String(160), default="staff")
    text: Mapped[str] = mapped_column(Text)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SessionPreference(Base):
    __tablename__ = "session_preference"

    sender_id: Mapped[str] = mapped_column(String(160), primary_key=True)
    lang: Mapped[str] = mapped_column(String(8))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)


def database_url(settings: KnowledgeSettings) -> str:
    """The configured URL, or SQLite at ``DATA_DIR/assistant.db``."""
    if settings.database_url:
        return settings.database_url
    return f"sqlite:///{settings.data_dir / 'assistant.db'}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets one process write while others read; busy_timeout makes a second writer wait
    # instead of failing with "database is locked".
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Store:
    """Short transactions over the feedback, handoff and preference tables."""

    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            from pathlib import Path

            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(url, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        Base.metadata.create_all(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def open(cls, settings: KnowledgeSettings) -> Store:
        return cls(database_url(settings))

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    # --- feedback ---------------------------------------------------------------------------

    def record_feedback(
        self, *, sender_id: str, lang: str, rating: str, question: str, doc_ids: Sequence[str]
    ) -> Feedback:
        if rating not in RATINGS:
            raise ValueError(f"rating must be one of {RATINGS}, not {rating!r}")
        row = Feedback(sender_id=sender_id, lang=lang, rating=rating, question=question, doc_ids=list(doc_ids))
        with self.session() as session:
            session.add(row)
        return row

    def add_feedback_comment(self, feedback_id: int, comment: str) -> bool:
        with self.session() as session:
            row = session.get(Feedback, feedback_id)
            if row is None:
                return False
            row.comment = comment.strip()[:MAX_COMMENT_CHARS]
        return True

    def feedback(self, *, rating: str | None = None, limit: int = 100) -> list[Feedback]:
        query = select(Feedback).order_by(Feedback.id.desc()).limit(limit)
        if rating is not None:
            query = query.where(Feedback.rating == rating)
        with self.session() as session:
            return list(session.scalars(query))

    # --- handoff ----------------------------------------------------------------------------

    def open_ticket(
        self, *, sender_id: str, channel: str, lang: str, question: str, transcript: Sequence[dict[str, Any]]
    ) -> HandoffTicket:
        """A new open ticket, or the session's ticket that is still open (one per conversation)."""
        turns = list(transcript)[-MAX_TRANSCRIPT_TURNS:]
        with self.session() as session:
            existing = session.scalars(
                select(HandoffTicket).where(HandoffTicket.sender_id == sender_id, HandoffTicket.status != "closed")
            ).first()
            if existing is not None:
                existing.transcript = turns
                if question:
                    existing.question = question
                return existing
            row = HandoffTicket(sender_id=sender_id, channel=channel, lang=lang, question=question, transcript=turns)
            session.add(row)
        return row

    def tickets(self, *, status: str | None = None, limit: int = 100) -> list[HandoffTicket]:
        query = select(HandoffTicket).order_by(HandoffTicket.id.desc()).limit(limit)
        if status is not None:
            query = query.where(HandoffTicket.status == status)
        with self.session() as session:
            return list(session.scalars(query))

    def count_tickets(self, status: str = "open") -> int:
        with self.session() as session:
            return int(session.scalar(select(func.count()).where(HandoffTicket.status == status)) or 0)

    def ticket(self, ticket_id: int) -> HandoffTicket | None:
        with self.session() as session:
            return session.get(HandoffTicket, ticket_id)

    def set_ticket_status(self, ticket_id: int, status: str) -> bool:
        if status not in TICKET_STATUSES:
            raise ValueError(f"status must be one of {TICKET_STATUSES}, not {status!r}")
        with self.session() as session:
            row = session.get(HandoffTicket, ticket_id)
            if row is None:
                return False
            row.status = status
        return True

    # --- staff replies ----------------------------------------------------------------------

    def add_staff_message(self, *, ticket_id: int, text: str, author: str = "staff") -> StaffMessage | None:
        """Queue a staff reply for the ticket's conversation (None if the ticket does not exist)."""
        with self.session() as session:
            ticket = session.get(HandoffTicket, ticket_id)
            if ticket is None:
                return None
            if ticket.status == "open":
                ticket.status = "claimed"
            row = StaffMessage(ticket_id=ticket_id, sender_id=ticket.sender_id, author=author, text=text[:4000])
            session.add(row)
        return row

    def take_staff_messages(self, sender_id: str) -> list[StaffMessage]:
        """Staff replies not yet shown in this conversation, oldest first; marks them delivered."""
        with self.session() as session:
            rows = list(
                session.scalars(
                    select(StaffMessage)
                    .where(StaffMessage.sender_id == sender_id, StaffMessage.delivered_at.is_(None))
                    .order_by(StaffMessage.id)
                )
            )
            now = _now()
            for row in rows:
                row.delivered_at = now
        return rows

    # --- language preference ----------------------------------------------------------------

    def set_language(self, sender_id: str, lang: str) -> None:
        with self.session() as session:
            row = session.get(SessionPreference, sender_id)
            if row is None:
                session.add(SessionPreference(sender_id=sender_id, lang=lang))
            else:
                row.lang = lang

    def language(self, sender_id: str) -> str | None:
        with self.session() as session:
            row = session.get(SessionPreference, sender_id)
            return row.lang if row is not None else None
