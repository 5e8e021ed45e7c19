"""The knowledge store: the documents staff edit and every version of them (SQLAlchemy).

- ``document``: the live version of each knowledge document (published, draft or retired), seeded
  from the reviewed corpus files and edited in the console;
- ``document_version``: every state a document has been in (who, when, what), for history, diff
  and rollback; retiring replaces deleting.

What happens around the answers (feedback, tickets, accounts, the question and audit logs,
language preferences) is the records package's (``records.store``), in the same database
(``knowledge.database``). The action server and the gateway each open their own ``Store``; every
method is one short transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, DateTime, Integer, String, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from knowledge.database import connect, database_url, now
from knowledge.errors import NotFound, VersionConflict
from knowledge.settings import KnowledgeSettings

if TYPE_CHECKING:
    from knowledge.documents import Document


class Base(DeclarativeBase):
    pass


class DocumentRecord(Base):
    """The live version of one knowledge document (``data`` is the validated Document as JSON)."""

    __tablename__ = "document"

    doc_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="published", index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    # sha256 of the corpus file text this record was last imported from; None once staff edit it.
    corpus_sha: Mapped[str | None] = mapped_column(String(64), nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now, onupdate=now)
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
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)


class Store:
    """Short transactions over the documents and their versions."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = connect(url)
        Base.metadata.create_all(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def open(cls, settings: KnowledgeSettings) -> Store:
        return cls(database_url(settings))

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

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
