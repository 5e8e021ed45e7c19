"""What happens around the answers, kept for staff: the records store (SQLAlchemy).

- ``feedback``: a trader's thumbs up or down on an answer, with the question, the documents the
  answer came from, the session and an optional comment;
- ``handoff_ticket`` and ``staff_message``: a request for a person, with the transcript so far, and
  the staff replies waiting to be shown in the trader's channel;
- ``session_preference``: a language a trader chose explicitly ("/lang zh"), which then wins over
  detecting the language of each message;
- ``staff_user``: console accounts with argon2 password hashes and a role;
- ``question_log``: every question the answer action searched for, whether it was answered and
  from which documents (the console's dashboard and questions queue);
- ``audit_event``: who did what in the console (documents, accounts, tickets, sign-ins).

None of this is knowledge: the documents and their versions are ``knowledge.store.Store``'s. Both
live in the same database (``knowledge.database``); the action server and the gateway each open
their own ``Records``; every method is one short transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from knowledge.database import connect, database_url
from knowledge.database import now as _now
from knowledge.settings import KnowledgeSettings
from records.errors import Conflict, Invalid, NotFound
from records.models import (
    RATINGS,
    ROLES,
    TICKET_STATUSES,
    AuditEvent,
    Feedback,
    HandoffTicket,
    QuestionLog,
    RecordsBase,
    SessionPreference,
    StaffMessage,
    StaffUser,
)

MAX_COMMENT_CHARS = 2000
MAX_TRANSCRIPT_TURNS = 60


@dataclass(frozen=True)
class Stats:
    """The console dashboard's figures."""

    questions_today: int
    questions_week: int
    answered_share_week: float | None
    thumbs_up_week: int
    thumbs_down_week: int
    open_tickets: int


class Records:
    """Short transactions over feedback, tickets, staff replies, accounts, the question log, the
    audit log and language preferences."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = connect(url)
        RecordsBase.metadata.create_all(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def open(cls, settings: KnowledgeSettings) -> Records:
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
            raise Invalid(f"rating must be one of {RATINGS}, not {rating!r}")
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
            raise Invalid(f"status must be one of {TICKET_STATUSES}, not {status!r}")
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
            delivered = _now()
            for row in rows:
                row.delivered_at = delivered
        return rows

    # --- staff accounts ---------------------------------------------------------------------

    def create_user(self, username: str, password_hash: str, role: str) -> StaffUser:
        if role not in ROLES:
            raise Invalid(f"role must be one of {ROLES}, not {role!r}")
        user = StaffUser(username=username, password_hash=password_hash, role=role)
        with self.session() as session:
            session.add(user)
        return user

    def user(self, username: str) -> StaffUser | None:
        with self.session() as session:
            return session.get(StaffUser, username)

    def count_users(self) -> int:
        with self.session() as session:
            return int(session.scalar(select(func.count()).select_from(StaffUser)) or 0)

    def set_password_hash(self, username: str, password_hash: str) -> None:
        with self.session() as session:
            user = session.get(StaffUser, username)
            if user is not None:
                user.password_hash = password_hash

    def users(self) -> list[StaffUser]:
        with self.session() as session:
            return list(session.scalars(select(StaffUser).order_by(StaffUser.username)))

    def update_user(
        self, username: str, *, role: str | None = None, active: bool | None = None, password_hash: str | None = None
    ) -> StaffUser:
        """Change an account; refuses to leave the console without an active admin."""
        if role is not None and role not in ROLES:
            raise Invalid(f"role must be one of {ROLES}, not {role!r}")
        with self.session() as session:
            user = session.get(StaffUser, username, with_for_update=True)
            if user is None:
                raise NotFound(f"No account {username}.")
            demoted = user.role == "admin" and user.active and (role not in (None, "admin") or active is False)
            if demoted:
                admins = session.scalar(
                    select(func.count()).select_from(StaffUser).where(StaffUser.role == "admin", StaffUser.active)
                )
                if int(admins or 0) <= 1:
                    raise Conflict("this is the last active admin: make another admin first", code="last_admin")
            if role is not None:
                user.role = role
            if active is not None:
                user.active = active
            if password_hash is not None:
                user.password_hash = password_hash
            return user

    # --- questions and the dashboard --------------------------------------------------------

    def log_question(
        self,
        *,
        sender_id: str,
        lang: str,
        question: str,
        answered: bool,
        doc_ids: Sequence[str],
        top_score: float | None,
    ) -> QuestionLog:
        row = QuestionLog(
            sender_id=sender_id,
            lang=lang,
            question=question[:2000],
            answered=answered,
            doc_ids=list(doc_ids),
            top_score=top_score,
        )
        with self.session() as session:
            session.add(row)
        return row

    def questions(
        self, *, answered: bool | None = None, since: dt.datetime | None = None, limit: int = 500
    ) -> list[QuestionLog]:
        query = select(QuestionLog).order_by(QuestionLog.id.desc()).limit(limit)
        if answered is not None:
            query = query.where(QuestionLog.answered == answered)
        if since is not None:
            query = query.where(QuestionLog.created_at >= since)
        with self.session() as session:
            return list(session.scalars(query))

    def stats(self, now: dt.datetime | None = None) -> Stats:
        now = now or _now()
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        week = now - dt.timedelta(days=7)

        with self.session() as session:

            def count(model: Any, *where: Any) -> int:
                return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

            asked_week = count(QuestionLog, QuestionLog.created_at >= week)
            answered_week = count(QuestionLog, QuestionLog.created_at >= week, QuestionLog.answered)
            return Stats(
                questions_today=count(QuestionLog, QuestionLog.created_at >= today),
                questions_week=asked_week,
                answered_share_week=answered_week / asked_week if asked_week else None,
                thumbs_up_week=count(Feedback, Feedback.created_at >= week, Feedback.rating == "good"),
                thumbs_down_week=count(Feedback, Feedback.created_at >= week, Feedback.rating == "bad"),
                open_tickets=count(HandoffTicket, HandoffTicket.status == "open"),
            )

    # --- audit ------------------------------------------------------------------------------

    def audit(self, actor: str, action: str, target: str = "", **detail: Any) -> None:
        with self.session() as session:
            session.add(AuditEvent(actor=actor, action=action, target=target[:200], detail=detail))

    def audit_events(
        self, *, actor: str | None = None, action: str | None = None, limit: int = 200
    ) -> list[AuditEvent]:
        query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
        if actor is not None:
            query = query.where(AuditEvent.actor == actor)
        if action is not None:
            query = query.where(AuditEvent.action == action)
        with self.session() as session:
            return list(session.scalars(query))

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
