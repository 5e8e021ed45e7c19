"""Cutting documents into passages: one passage per ``##`` section, plus the summary.

Each passage carries its document and section titles, so a passage read alone still says what it is
about, and the search index sees the title words. Passage ids are derived from the document id and a
hash of the section heading: editing a section's text keeps its id, reordering sections keeps all ids.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field

from knowledge.documents import Document

_SECTION = re.compile(r"^##\s+(.+?)\s*$", re.MULTILINE)
_H1 = re.compile(r"^#\s+.+$", re.MULTILINE)
SUMMARY_SECTION = {"en": "Summary", "zh": "概述"}


@dataclass(frozen=True)
class Passage:
    """One searchable, citable piece of a document."""

    id: str
    doc_id: str
    slug: str
    lang: str
    doc_title: str
    section: str
    text: str
    topic: str
    zones: tuple[str, ...]
    kind: str
    confidence: str
    source_url: str
    source_title: str
    source_date: dt.date | None
    last_reviewed: dt.date
    valid_from: dt.date | None
    valid_until: dt.date | None
    tags: tuple[str, ...] = field(default=())
    # The document's title in the other language, for a document written in one language only: a
    # question in the other language then shares its words (BM25) and its meaning (the embedding).
    other_title: str = ""
    # The slug of the document that replaced this one's rule ("" when none): see knowledge.answers.
    superseded_by: str = ""

    @property
    def indexed_text(self) -> str:
        """What retrieval sees: titles and tags carried into the section text."""
        tags = " ".join(self.tags)
        titles = f"{self.doc_title}\n{self.other_title}" if self.other_title else self.doc_title
        return f"{titles}\n{self.section}\n{self.text}\n{tags}".strip()

    def is_current(self, today: dt.date) -> bool:
        if self.valid_until is not None and today > self.valid_until:
            return False
        return not (self.valid_from is not None and today < self.valid_from)


def _passage_id(doc_id: str, heading: str, seen: dict[str, int]) -> str:
    digest = hashlib.sha1(heading.strip().lower().encode("utf-8")).hexdigest()[:10]
    seen[digest] = seen.get(digest, 0) + 1
    suffix = "" if seen[digest] == 1 else f"-{seen[digest]}"
    return f"{doc_id}#{digest}{suffix}"


def split_document(document: Document) -> list[Passage]:
    """Cut a document into its summary passage and one passage per ``##`` section."""
    body = _H1.sub("", document.body, count=1).strip()
    parts = _SECTION.split(body)
    # parts = [summary, heading1, text1, heading2, text2, ...]
    sections: list[tuple[str, str]] = []
    if parts[0].strip():
        sections.append((SUMMARY_SECTION[document.lang], parts[0].strip()))
    sections.extend((heading.strip(), text.strip()) for heading, text in zip(parts[1::2], parts[2::2], strict=False))
    source = document.primary_source
    seen: dict[str, int] = {}
    return [
        Passage(
            id=_passage_id(document.id, heading, seen),
            doc_id=document.id,
            slug=document.slug,
            lang=document.lang,
            doc_title=document.title,
            section=heading,
            text=text,
            topic=document.topic,
            zones=tuple(document.zones),
            kind=document.kind,
            confidence=document.confidence,
            source_url=str(source.url),
            source_title=source.title,
            source_date=document.source_date,
            last_reviewed=document.last_reviewed,
            valid_from=document.valid_from,
            valid_until=document.valid_until,
            tags=tuple(document.tags),
            other_title=""
            if document.translation
            else (document.title_zh if document.lang == "en" else document.title_en),
            superseded_by=document.superseded_by or "",
        )
        for heading, text in sections
        if text
    ]
