"""The reviewed corpus itself: complete, bilingual, sourced and well-formed."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from knowledge.documents import Document, check_corpus, load_corpus, parse_document
from knowledge.errors import CorpusError
from knowledge.passages import split_document

VALID = """---
id: sample-doc.en
translation: sample-doc.zh
lang: en
title: "Sample: a document"
title_en: "Sample: a document"
title_zh: "示例文档"
topic: customs
zones: [hangzhou]
tags: [9610, sample]
kind: fact
sources:
  - url: https://example.gov.cn/page
    title: Example page
    date: 2021-06-22
source_date: 2021-06-22
last_reviewed: 2026-12-02
valid_from: null
valid_until: null
confidence: high
---
# Sample: a document

Summary paragraph.

## First section

Text of the first section.

## Second section

Text of the second section.
"""


def test_corpus_is_large_enough_and_every_document_exists_in_both_languages(
    corpus_documents: list[Document],
) -> None:
    languages: dict[str, set[str]] = defaultdict(set)
    for document in corpus_documents:
        languages[document.slug].add(document.lang)
    assert len(languages) >= 45
    assert all(langs == {"en", "zh"} for langs in languages.values()), [
        slug for slug, langs in languages.items() if langs != {"en", "zh"}
    ]
    assert sum(len(split_document(d)) for d in corpus_documents) >= 350


def test_every_document_is_sourced_dated_and_reviewed(corpus_documents: list[Document]) -> None:
    for document in corpus_documents:
        assert document.sources, document.id
        assert all(str(s.url).startswith(("http://", "https://")) for s in document.sources), document.id
        assert document.last_reviewed is not None
        dated = [s.date for s in document.sources if s.date]
        if dated:
            assert document.source_date == max(dated), f"{document.id}: source_date is not the newest source date"


def test_both_language_versions_share_topic_kind_and_titles(corpus_documents: list[Document]) -> None:
    by_id = {d.id: d for d in corpus_documents}
    for document in corpus_documents:
        other = by_id[document.translation or ""]
        assert (other.topic, other.kind) == (document.topic, document.kind), document.id
        assert document.title == (document.title_en if document.lang == "en" else document.title_zh)


def test_every_section_becomes_a_titled_passage_with_a_stable_id() -> None:
    document = parse_document(VALID)
    passages = split_document(document)
    assert [p.section for p in passages] == ["Summary", "First section", "Second section"]
    assert all(p.doc_title in p.indexed_text for p in passages)
    edited = parse_document(VALID.replace("Text of the first section.", "New text."))
    assert [p.id for p in split_document(edited)] == [p.id for p in passages]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("---\nid", "id"), "no YAML front matter"),
        (("lang: en", "lang: fr"), "lang"),
        (("valid_until: null", "valid_until: 2020-01-01\n"), "valid_until must be after valid_from"),
        (("https://example.gov.cn/page", "ftp://example.gov.cn/page"), "url"),
        (("translation: sample-doc.zh", "translation: other-doc.zh"), "share the slug"),
        (("id: sample-doc.en", "id: Sample Doc"), "not <slug>"),
        (("Summary paragraph.", ""), "body"),
        (("valid_until: null", "valid_until: null\nsuperseded_by: other-doc"), "needs valid_until"),
        (("valid_until: null", "valid_until: 2030-01-01\nsuperseded_by: sample-doc"), "another document"),
    ],
)
def test_malformed_documents_are_rejected_with_the_reason(change: tuple[str, str], message: str) -> None:
    text = VALID.replace(*change, 1)
    if change[0] == "valid_until: null":
        text = text.replace("valid_from: null", "valid_from: 2021-01-01")
    if change[0] == "Summary paragraph.":
        text = text.split("---\n# ")[0] + "---\n"
    with pytest.raises(CorpusError, match=message):
        parse_document(text, origin="sample.md")


def test_an_answer_cites_the_official_page_before_a_newer_copy_on_an_unofficial_site() -> None:
    sources = """sources:
  - url: https://blog.example.com/copy-of-notice
    title: Copy of the notice
    date: 2024-12-01
  - url: https://www.customs.gov.cn/notice
    title: GACC notice
    date: 2024-11-20
  - url: https://en.people.cn/report
    title: People's Daily report
    date: 2024-11-25
"""
    document = parse_document(VALID.replace(VALID[VALID.index("sources:") : VALID.index("source_date")], sources))
    assert document.primary_source.title == "GACC notice"
    without_official = parse_document(
        VALID.replace(
            VALID[VALID.index("sources:") : VALID.index("source_date")],
            sources.replace("www.customs.gov.cn", "www.customs-gov.cn.example.com"),
        )
    )
    assert without_official.primary_source.title == "People's Daily report"


def test_duplicate_ids_and_one_way_translations_are_rejected() -> None:
    english = parse_document(VALID)
    with pytest.raises(CorpusError, match="duplicate"):
        check_corpus([english, english])
    with pytest.raises(CorpusError, match="does not exist"):
        check_corpus([english])


def test_the_loader_names_the_broken_file(tmp_path: Path) -> None:
    (tmp_path / "broken.en.md").write_text("---\nid: [unclosed\n---\nbody", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"broken\.en\.md"):
        load_corpus(tmp_path)
