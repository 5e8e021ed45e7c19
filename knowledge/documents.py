"""Knowledge documents: the validated shape of one document in one language, and the corpus loader.

A document is Markdown with YAML front matter (see ``knowledge/corpus/README.md``). Validation here is
the single place that decides what a well-formed document is, for the reviewed corpus files and for
documents created by staff alike.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, field_validator, model_validator

from knowledge.errors import CorpusError
from knowledge.language import SUPPORTED_LANGUAGES

ZONES = ("hangzhou", "ningbo", "zhoushan", "jinyi")
# Hosts an answer would rather cite: governments and official bodies first, then major news outlets.
# Many reference pages reach us only as copies on unofficial sites; a trader should see the official
# or press page whenever the document lists one.
_OFFICIAL_HOST = re.compile(r"(?:^|\.)(?:gov(?:\.[a-z]{2})?|europa\.eu|un\.org|wto\.org|iccwbo\.org)$")
_PRESS_HOST = re.compile(
    r"(?:^|\.)(?:chinadaily\.com\.cn|people\.cn|peopledaily\.com\.cn|news\.cn|xinhuanet\.com|cgtn\.com|"
    r"globaltimes\.cn|ecns\.cn|china\.org\.cn|zjol\.com\.cn|reuters\.com|scmp\.com|yicaiglobal\.com|caixin\.com|"
    r"shine\.cn|cnnb\.com\.cn|hangzhou\.com\.cn)$"
)


def source_rank(host: str) -> int:
    """0 for an official page, 1 for a major news outlet, 2 for anything else."""
    host = host.lower().rstrip(".")
    return 0 if _OFFICIAL_HOST.search(host) else 1 if _PRESS_HOST.search(host) else 2


_ID = re.compile(r"^[a-z0-9][a-z0-9-]*\.(en|zh)$")
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n(.*)\Z", re.DOTALL)


class Source(BaseModel):
    """One source a document was written from."""

    model_config = ConfigDict(extra="forbid")

    url: HttpUrl
    title: str = Field(min_length=1, max_length=300)
    date: dt.date | None = None

    @field_validator("url")
    @classmethod
    def _http_only(cls, url: HttpUrl) -> HttpUrl:
        if url.scheme not in ("http", "https"):
            raise ValueError("source URLs must be http or https")
        return url


class Document(BaseModel):
    """One knowledge document in one language."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    translation: str | None = None
    lang: Literal["en", "zh"]
    title: str = Field(min_length=3, max_length=200)
    title_en: str = Field(min_length=3, max_length=200)
    title_zh: str = Field(min_length=2, max_length=200)
    topic: str = Field(pattern=r"^[a-z][a-z-]*$")
    zones: list[Literal["hangzhou", "ningbo", "zhoushan", "jinyi"]] = []
    tags: list[str] = []
    kind: Literal["fact", "howto"] = "fact"
    sources: list[Source] = Field(min_length=1)
    source_date: dt.date | None = None
    last_reviewed: dt.date
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    # The slug of the document that replaced this one (set with ``valid_until``): the bot then says
    # what replaced it and when, and cites the new one.
    superseded_by: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]*$")
    confidence: Literal["high", "medium", "low"]
    body: str = Field(min_length=1)

    @field_validator("id", "translation")
    @classmethod
    def _id_shape(cls, value: str | None) -> str | None:
        if value is not None and not _ID.match(value):
            raise ValueError(f"{value!r} is not <slug>.<en|zh> (lower-case letters, digits, hyphens)")
        return value

    @field_validator("tags", mode="before")
    @classmethod
    def _tags_as_text(cls, tags: list[object] | None) -> list[str]:
        # YAML reads a tag like 9610 as a number; tags are words.
        return [str(tag) for tag in tags or []]

    @model_validator(mode="after")
    def _consistent(self) -> Document:
        if not self.id.endswith(f".{self.lang}"):
            raise ValueError(f"id {self.id!r} must end with .{self.lang} to match lang")
        if self.translation is not None:
            if self.translation.rsplit(".", 1)[0] != self.slug:
                raise ValueError(f"translation {self.translation!r} must share the slug {self.slug!r}")
            if self.translation == self.id:
                raise ValueError("a document cannot be its own translation")
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        if self.superseded_by is not None and (self.superseded_by == self.slug or self.valid_until is None):
            raise ValueError("superseded_by names another document and needs valid_until (the last day in force)")
        if not self.body.strip():
            raise ValueError("body is empty")
        return self

    @property
    def slug(self) -> str:
        """The language-independent id shared by both language versions."""
        return self.id.rsplit(".", 1)[0]

    @property
    def primary_source(self) -> Source:
        """The source an answer cites: the most authoritative kind listed (an official page, then a
        major news outlet, then any other), and among those the newest dated one, else the first."""
        best = min(source_rank(s.url.host or "") for s in self.sources)
        candidates = [s for s in self.sources if source_rank(s.url.host or "") == best]
        dated = [s for s in candidates if s.date is not None]
        return max(dated, key=lambda s: s.date or dt.date.min) if dated else candidates[0]

    def is_current(self, today: dt.date) -> bool:
        """False when the document has expired or is not yet in force."""
        if self.valid_until is not None and today > self.valid_until:
            return False
        return not (self.valid_from is not None and today < self.valid_from)


def parse_document(text: str, *, origin: str = "<text>") -> Document:
    """Parse Markdown with YAML front matter into a validated ``Document``."""
    match = _FRONT_MATTER.match(text.lstrip("\ufeff"))
    if match is None:
        raise CorpusError(f"{origin}: no YAML front matter (the file must start with a '---' block)")
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise CorpusError(f"{origin}: front matter is not valid YAML: {exc}") from exc
    if not isinstance(meta, dict):
        raise CorpusError(f"{origin}: front matter must be a mapping of fields")
    try:
        return Document.model_validate({**meta, "body": match.group(2).strip()})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'document'}: {err['msg']}" for err in exc.errors()
        )
        raise CorpusError(f"{origin}: {problems}") from exc


def load_corpus(root: Path) -> list[Document]:
    """Load and cross-check every ``*.md`` document under ``root`` (README/PLAN files excepted)."""
    documents = [
        parse_document(path.read_text(encoding="utf-8"), origin=str(path))
        for path in sorted(root.rglob("*.md"))
        if path.name not in ("README.md", "PLAN.md")
    ]
    check_corpus(documents)
    return documents


def check_corpus(documents: Iterable[Document]) -> None:
    """Corpus-wide rules: unique ids, and every translation link points at an existing document."""
    by_id: dict[str, Document] = {}
    for document in documents:
        if document.id in by_id:
            raise CorpusError(f"duplicate document id {document.id!r}")
        by_id[document.id] = document
    for document in by_id.values():
        if document.translation is not None:
            other = by_id.get(document.translation)
            if other is None:
                raise CorpusError(f"{document.id}: translation {document.translation!r} does not exist")
            if other.translation != document.id:
                raise CorpusError(f"{document.id}: {other.id} does not link back to it")
    langs = {d.lang for d in by_id.values()}
    if by_id and not set(SUPPORTED_LANGUAGES) <= langs:
        raise CorpusError(f"the corpus must hold both languages, found only {sorted(langs)}")
