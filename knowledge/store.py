"""The assistant's database of record for what happens around the answers (SQLAlchemy).

It holds what staff read in the console and what must survive a restart:

- ``feedback``: a trader's thumbs up or down on an answer, with the question, the documents the
  answer came from, the session and an optional comment;
- ``handoff_ticket``: a request for a person, with the transcript so far;
- ``session_preference``: a language a trader chose explicitly ("/lang zh"), which then wins over
  detecting the language of each message;
- ``document`` and ``document_version``: the knowledge documents staff edit, each change a new
  version (who, when, what), retiring instead of deleting; seeded from the reviewed corpus files;
- ``staff_user``: console accounts with argon2 password hashes and a role;
- ``question_log``: every question the answer action searched for, whether it was answered and
  from which documents (the console's dashboard and questions queue);
- ``audit_event``: who did what in the console (documents, accounts, tickets, sign-ins).

SQLite under ``DATA_DIR`` by default (WAL mode, so the gateway and the action server can both
write), PostgreSQL for the scale-out profile: the URL is the ``database_url`` setting. The action
server and the gateway each open their own ``Store``; every method is one short transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, DateTime, Integer, String, Text, create_engine, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from knowledge.errors import Conflict, Invalid, NotFound, VersionConflict
from knowledge.settings import KnowledgeSettings

if TYPE_CHECKING:
    from knowledge.documents import Document

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


class DocumentRecord(Base):
    """The live version of one knowledge document (``data`` is the validated Document as JSON)."""

    __tablename__ = "document"

    doc_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="published", index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    # sha256 of the corpus file text this record was last imported from; None once staff edit it.
    corpus_sha: Mapped[str | None] = mapped_column(String(64), nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)
    updated_by: Mapped[str] = mapped_column(String(160))


class DocumentVersion(Base):
    """Every state a document has been in, for history, diff and rollback."""

    __tablename__ = "document_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    doc_id: Mapped[str] = mapped_column(String(120), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    author: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class StaffUser(Base):
    __tablename__ = "staff_user"

    username: Mapped[str] = mapped_column(String(80), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


ROLES = ("admin", "editor", "viewer")


class QuestionLog(Base):
    """A question the answer action searched for, and what came of it."""

    __tablename__ = "question_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)
    sender_id: Mapped[str] = mapped_column(String(160), index=True)
    lang: Mapped[str] = mapped_column(String(8))
    question: Mapped[str] = mapped_column(Text)
    answered: Mapped[bool] = mapped_column(default=False, index=True)
    doc_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    top_score: Mapped[float | None] = mapped_column(nullable=True)


class AuditEvent(Base):
    """One staff action: ``actor`` did ``action`` to ``target`` (details in ``detail``)."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)
    actor: Mapped[str] = mapped_column(String(160), index=True)
    action: Mapped[str] = mapped_column(String(40), index=True)
    target: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


@dataclass(frozen=True)
class Stats:
    """The console dashboard's figures."""

    questions_today: int
    questions_week: int
    answered_share_week: float | None
    thumbs_up_week: int
    thumbs_down_week: int
    open_tickets: int


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
            now = _now()
            for row in rows:
                row.delivered_at = now
        return rows

    # --- knowledge documents ---------------------------------------------------------------

    def _version(self, session: Session, record: DocumentRecord, action: str, author: str) -> None:
        session.add(
            DocumentVersion(
                doc_id=record.doc_id,
                version=record.version,
                status=record.status,
                action=action,
                data=record.data,
                author=author,
            )
        )

    def import_corpus(self, documents: Sequence[tuple[dict[str, Any], str]]) -> tuple[int, int, int, int]:
        """Bring corpus files into the store: (added, updated, kept because staff edited them, retired).

        ``documents`` are (document JSON, sha256 of its file). A new file is added; a changed file
        replaces its record only while no staff member has edited that document since, so a
        console edit is never overwritten by an older file. A document that came from a file no
        longer in the corpus (merged into another, say) is retired, recoverably, unless staff edited it.
        """
        added = updated = kept = retired = 0
        with self.session() as session:
            existing = {r.doc_id: r for r in session.scalars(select(DocumentRecord))}
            for data, sha in documents:
                record = existing.get(data["id"])
                if record is None:
                    record = DocumentRecord(
                        doc_id=data["id"], version=1, data=data, corpus_sha=sha, updated_by="corpus"
                    )
                    record.status = "published"
                    session.add(record)
                    self._version(session, record, "import", "corpus")
                    added += 1
                elif record.corpus_sha is None:
                    kept += 1
                elif record.corpus_sha != sha:
                    record.data, record.corpus_sha, record.updated_by = data, sha, "corpus"
                    record.version += 1
                    self._version(session, record, "import", "corpus")
                    updated += 1
            in_corpus = {data["id"] for data, _ in documents}
            for record in existing.values():
                gone = record.doc_id not in in_corpus and record.corpus_sha is not None
                if gone and record.status == "published":
                    record.status, record.updated_by = "retired", "corpus"
                    record.version += 1
                    self._version(session, record, "retire", "corpus")
                    retired += 1
        return added, updated, kept, retired

    def documents(self, *, status: str | None = None) -> list[DocumentRecord]:
        query = select(DocumentRecord).order_by(DocumentRecord.doc_id)
        if status is not None:
            query = query.where(DocumentRecord.status == status)
        with self.session() as session:
            return list(session.scalars(query))

    def document(self, doc_id: str) -> DocumentRecord | None:
        with self.session() as session:
            return session.get(DocumentRecord, doc_id)

    def save_document(
        self, data: dict[str, Any], *, author: str, expected_version: int | None, create: bool = False
    ) -> DocumentRecord:
        """Create (``create=True``) or replace a document; refuses a save based on a stale version."""
        with self.session() as session:
            record = session.get(DocumentRecord, data["id"], with_for_update=True)
            if create:
                if record is not None:
                    raise VersionConflict(data["id"], 0, record.version, code="document_exists")
                record = DocumentRecord(doc_id=data["id"], version=1, data=data, updated_by=author)
                record.status = "published"
                session.add(record)
                self._version(session, record, "create", author)
                return record
            if record is None:
                raise NotFound(f"No document {data['id']}.")
            if expected_version is not None and expected_version != record.version:
                raise VersionConflict(record.doc_id, expected_version, record.version)
            record.data, record.status, record.updated_by, record.corpus_sha = data, "published", author, None
            record.version += 1
            self._version(session, record, "update", author)
            return record

    def set_document_status(self, doc_id: str, status: str, *, author: str) -> DocumentRecord:
        """Retire (recoverably) or republish a document."""
        with self.session() as session:
            record = session.get(DocumentRecord, doc_id, with_for_update=True)
            if record is None:
                raise NotFound(f"No document {doc_id}.")
            record.status, record.updated_by, record.corpus_sha = status, author, None
            record.version += 1
            self._version(session, record, "retire" if status == "retired" else "restore", author)
            return record

    def rollback_document(self, doc_id: str, version: int, *, author: str) -> DocumentRecord:
        """A new version whose content and status are those of ``version``."""
        with self.session() as session:
            record = session.get(DocumentRecord, doc_id, with_for_update=True)
            old = session.scalars(
                select(DocumentVersion).where(DocumentVersion.doc_id == doc_id, DocumentVersion.version == version)
            ).first()
            if record is None or old is None:
                raise NotFound(f"No version {version} of {doc_id}.")
            record.data, record.status, record.updated_by, record.corpus_sha = old.data, old.status, author, None
            record.version += 1
            self._version(session, record, "rollback", author)
            return record

    def document_versions(self, doc_id: str) -> list[DocumentVersion]:
        with self.session() as session:
            query = select(DocumentVersion).where(DocumentVersion.doc_id == doc_id).order_by(DocumentVersion.version)
            return list(session.scalars(query))

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


def import_corpus_files(store: Store, corpus_dir: Path) -> tuple[int, int, int, int]:
    """Import the reviewed corpus files into the store (see ``Store.import_corpus``)."""
    import hashlib

    from knowledge.documents import check_corpus, parse_document

    rows: list[tuple[dict[str, Any], str]] = []
    parsed = []
    for path in sorted(corpus_dir.rglob("*.md")):
        if path.name in ("README.md", "PLAN.md"):
            continue
        text = path.read_text(encoding="utf-8")
        document = parse_document(text, origin=str(path))
        parsed.append(document)
        rows.append((document.model_dump(mode="json"), hashlib.sha256(text.encode()).hexdigest()))
    check_corpus(parsed)
    return store.import_corpus(rows)


def published_documents(store: Store) -> list[Document]:
    """The documents the assistant answers from: every published record, validated."""
    from knowledge.documents import Document

    return [Document.model_validate(record.data) for record in store.documents(status="published")]
