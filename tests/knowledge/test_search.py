"""Hybrid search on a slice of the real corpus with the real embedding model."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from knowledge.documents import Document
from knowledge.errors import QueryError
from knowledge.search import HybridRetriever, fuse


def test_fusion_rewards_agreement_between_rankings() -> None:
    fused = fuse({"dense": [1, 2, 3], "bm25": [3, 1, 9]}, {"dense": 1.0, "bm25": 1.0}, k=10)
    assert max(fused, key=fused.__getitem__) == 1
    assert fused[3] > fused[2]
    assert fused[9] < fused[2]


def test_english_question_finds_the_customs_code_document(retriever: HybridRetriever) -> None:
    result = retriever.search("which customs code for small parcels sold to consumers abroad")
    assert result.answered
    assert result.hits[0].passage.slug in {"customs-9610", "howto-choose-customs-code"}
    assert result.hits[0].passage.lang == "en"


def test_chinese_question_is_answered_from_chinese_passages(retriever: HybridRetriever) -> None:
    result = retriever.search("市场采购贸易出口可以退税吗")
    assert result.answered
    assert result.lang == "zh"
    assert result.hits[0].passage.lang == "zh"
    assert result.hits[0].passage.slug in {"market-procurement", "howto-market-procurement-export"}


def test_a_customs_code_is_matched_exactly_even_in_a_bare_query(retriever: HybridRetriever) -> None:
    result = retriever.search("1039")
    assert result.answered
    assert result.hits[0].exact_match
    assert "1039" in result.hits[0].passage.indexed_text
    assert "exact" in result.hits[0].found_by


def test_questions_outside_the_knowledge_base_are_not_answered(retriever: HybridRetriever) -> None:
    for question in ("what is the weather in Paris tomorrow", "推荐一家杭州好吃的火锅店"):
        result = retriever.search(question)
        assert not result.answered, (question, result.hits[0].passage.id if result.hits else None)
        assert result.reason


def test_filters_restrict_topic_and_language(retriever: HybridRetriever) -> None:
    result = retriever.search("documents to prepare", topic="odi", k=10)
    assert result.hits and all(h.passage.topic == "odi" for h in result.hits)
    result = retriever.search("documents to prepare", only_lang=True, lang="zh", k=10)
    assert result.hits and all(h.passage.lang == "zh" for h in result.hits)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"query": ""}, "empty"),
        ({"query": "   "}, "empty"),
        ({"query": "x" * 10_000}, "limit"),
        ({"query": "9610", "k": 0}, "k must be"),
        ({"query": "9610", "k": 500}, "k must be"),
        ({"query": "9610", "lang": "fr"}, "unknown language"),
    ],
)
def test_unusable_queries_get_a_clear_error(retriever: HybridRetriever, kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(QueryError, match=message):
        retriever.search(**kwargs)


@pytest.mark.parametrize("query", ["?!?!", "👍🎉", "……"])
def test_queries_without_words_return_nothing_with_a_reason(retriever: HybridRetriever, query: str) -> None:
    result = retriever.search(query)
    assert not result.answered and not result.hits and "no words" in result.reason


def test_an_expired_document_is_not_served_as_current(retriever: HybridRetriever) -> None:
    target = next(p for p in retriever.snapshot.passages if p.slug == "customs-9610" and p.lang == "en")
    question = "which customs code for small parcels sold to consumers abroad"
    document = _document(retriever, target.doc_id)
    retriever.apply([document.model_copy(update={"valid_until": dt.date(2020, 1, 1)})], persist=False)
    result = retriever.search(question, k=20)
    assert all(h.passage.doc_id != target.doc_id for h in result.hits)
    result = retriever.search(question, k=20, include_expired=True)
    assert any(h.passage.doc_id == target.doc_id for h in result.hits)


def test_a_new_document_is_searchable_as_soon_as_apply_returns(
    retriever: HybridRetriever, small_documents: list[Document]
) -> None:
    template = small_documents[0]
    new = template.model_copy(
        update={
            "id": "zz-test-pallets.en",
            "translation": None,
            "title": "Pallet fumigation stamps for wooden crates",
            "body": "# Pallet fumigation\n\nWooden crates need an ISPM-15 fumigation stamp before export.",
        }
    )
    assert not any(h.passage.doc_id == new.id for h in retriever.search("ISPM-15 fumigation stamp").hits)
    retriever.apply([new])
    assert retriever.search("ISPM-15 fumigation stamp").hits[0].passage.doc_id == new.id
    retriever.apply(deletes=[new.id])
    assert not any(h.passage.doc_id == new.id for h in retriever.search("ISPM-15 fumigation stamp").hits)


def test_a_second_process_picks_up_a_saved_update(
    retriever: HybridRetriever, small_documents: list[Document], embedder: object
) -> None:
    other = HybridRetriever.open(retriever.settings, embedder)  # type: ignore[arg-type]
    removed = small_documents[1].id
    retriever.apply(deletes=[removed])
    assert removed in other.snapshot.doc_ids
    assert other.refresh()
    assert removed not in other.snapshot.doc_ids


def test_searches_during_updates_never_fail_or_see_half_a_document(
    retriever: HybridRetriever, small_documents: list[Document]
) -> None:
    document = next(d for d in small_documents if d.slug == "customs-9610" and d.lang == "en")
    sections = len([p for p in retriever.snapshot.passages if p.doc_id == document.id])
    errors: list[BaseException] = []
    seen_counts: set[int] = set()
    done = threading.Event()

    def search_loop() -> None:
        while not done.is_set():
            try:
                snapshot = retriever.snapshot
                seen_counts.add(sum(1 for p in snapshot.passages if p.doc_id == document.id))
                retriever.search("9610 parcels", k=5)
            except BaseException as exc:
                errors.append(exc)
                return

    threads = [threading.Thread(target=search_loop) for _ in range(3)]
    for thread in threads:
        thread.start()
    for _ in range(4):
        retriever.apply(deletes=[document.id], persist=False)
        retriever.apply([document], persist=False)
    done.set()
    for thread in threads:
        thread.join()
    assert not errors
    assert seen_counts <= {0, sections}


def _document(retriever: HybridRetriever, doc_id: str) -> Document:
    from knowledge.documents import load_corpus

    return next(d for d in load_corpus(retriever.settings.corpus_dir) if d.id == doc_id)


def test_editing_a_document_does_not_move_it_in_the_ranking(
    retriever: HybridRetriever, small_documents: list[Document]
) -> None:
    """An edited document lives in the delta segment; its BM25 and dense scores stay on the base's scale."""
    question = "market procurement export Yiwu"
    before = [h.passage.id for h in retriever.search(question, k=5).hits]
    edited_id = before[0].split("#")[0]
    document = next(d for d in small_documents if d.id == edited_id)
    retriever.apply([document], persist=False)  # same text, now served from the delta
    assert any(p.doc_id == edited_id for p in retriever.snapshot.delta.passages)
    assert [h.passage.id for h in retriever.search(question, k=5).hits] == before


def test_a_word_only_an_edited_document_uses_is_found_by_bm25(
    retriever: HybridRetriever, small_documents: list[Document]
) -> None:
    document = next(d for d in small_documents if d.lang == "en")
    edited = document.model_copy(update={"body": document.body + "\n\n## Zorblax seals\n\nZorblax seals are checked."})
    retriever.apply([edited], persist=False)
    hit = retriever.search("zorblax", k=3).hits[0]
    assert hit.passage.section == "Zorblax seals" and "bm25" in hit.found_by
