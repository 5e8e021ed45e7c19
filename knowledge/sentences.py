"""The sentences of the best documents, scored against a question (``knowledge.answers`` leads with
the best).

A sentence's score is the share of the question's idf-weighted words it holds (its own, and with
its section heading), its section's similarity to the question, a bonus when one of its figures
counts the asked thing, and a little for the passage search ranked first; ``Asked.held_by`` says
whether it holds the asked kind of number or date at all. Sentences are cut and tokenised once per
process (jieba is most of the cost, and the same sections come back question after question).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from knowledge.language import tokenize
from knowledge.passages import Passage
from knowledge.questions import Asked
from knowledge.search import SearchResult

# Sentence score = coverage of the question's words (its own, and with its heading) + its section's
# similarity to the question + a bonus when one of its figures counts the asked thing ("23 trips",
# "53个非洲国家") + a little for the passage search ranked first. For a number or a date only the
# sentences that hold one are candidates at all (``Asked.held_by``). Tuned on the real-source dev half
# (make eval-dev): W_COUNTED 0 / 0.25 / 0.6+ gives Chinese correct 0.877 / 0.895 / 0.912; W_SECTION
# 0.3 / 1.5 / 6 gives 0.860 / 0.895 / 0.895; W_FIRST_HIT 0 / 0.1 / 0.3 gives 0.825 / 0.895 / 0.860.
W_COVERAGE = 1.0
W_CONTEXT = 0.25
W_SECTION = 1.5
W_COUNTED = 0.6
W_FIRST_HIT = 0.1

_ABBREVIATIONS = re.compile(
    r"(?:\b(?:No|Nos|Art|Arts|e\.g|i\.e|etc|vs|Co|Ltd|Inc|St|Mr|Ms|Dr|approx|incl|para|p|pp|Vol|Fig|U\.S|U\.K|Jan|Feb|"
    r"Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)|\b[A-Z])\.$"
)
_EN_END = re.compile(r"(?<=[.!?;])\s+(?=[\"'“(\[*]*[A-Z0-9])")
_ZH_END = re.compile(r"(?<=[。！？；!?])")
LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)、])\s+")


def split_sentences(text: str) -> list[str]:
    """Sentences of a passage, in order: list items and lines stand alone, "No. 54" does not end one."""
    sentences: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        for piece in _ZH_END.split(line):
            start = 0
            for match in _EN_END.finditer(piece):
                candidate = piece[start : match.start()]
                if _ABBREVIATIONS.search(candidate):
                    continue
                sentences.append(candidate.strip())
                start = match.end()
            if piece[start:].strip():
                sentences.append(piece[start:].strip())
    return [s for s in sentences if s]


@dataclass(frozen=True)
class Sentence:
    """One sentence of a passage and why it was chosen."""

    text: str
    passage: Passage
    index: int  # position in its passage
    score: float
    coverage: float
    typed: bool  # holds a fact of the asked type


def _coverage(tokens: frozenset[str], wanted: Mapping[str, float]) -> float:
    total = sum(wanted.values())
    return sum(w for t, w in wanted.items() if t in tokens) / total if total > 0 else 0.0


def score_sentences(result: SearchResult, question: str, *, lang: str | None = None) -> list[Sentence]:
    """Every sentence of the best documents' sections, best first."""
    asked = Asked.of(question)
    # "how many trucks", and no document ever says "truck": no figure here counts them.
    uncountable = (
        asked.counted is not None and result.spelling.get(asked.counted, asked.counted) in result.unknown_words
    )
    wanted = _weights(question, result.term_weights, result.spelling)
    first = result.hits[0].passage.id if result.hits else None
    scored: list[Sentence] = []
    for sections in result.sections.values():
        for section in sections:
            passage = section.passage
            if lang is not None and passage.lang != lang:
                continue
            title = f"{passage.doc_title} {passage.section}"
            heading, sentences = _analysed(title, passage.text)
            for index, (text, tokens) in enumerate(sentences):
                coverage = _coverage(tokens, wanted)
                context = _coverage(tokens | heading, wanted)  # the heading often names the subject
                typed = not uncountable and asked.held_by(text, passage.section)
                score = (
                    W_COVERAGE * ((1 - W_CONTEXT) * coverage + W_CONTEXT * context)
                    + W_SECTION * section.dense_similarity
                    + (W_COUNTED if typed and asked.counts_in(text) else 0.0)
                    + (W_FIRST_HIT if passage.id == first else 0.0)
                )
                scored.append(Sentence(text, passage, index, round(score, 4), round(coverage, 4), typed))
    scored.sort(key=lambda s: -s.score)
    return scored


@lru_cache(maxsize=8192)
def _analysed(title: str, text: str) -> tuple[frozenset[str], tuple[tuple[str, frozenset[str]], ...]]:
    """A section's heading words and its sentences with their words (cut once per process: jieba is
    most of the cost of scoring, and the same sections come back question after question)."""
    sentences = tuple((s, frozenset(tokenize(s))) for s in split_sentences(text))
    return frozenset(tokenize(title)), sentences


def _weights(question: str, idf: Mapping[str, float], spelling: Mapping[str, str]) -> dict[str, float]:
    """The question's words with their idf (words the index lacks weigh as the rarest known word)."""
    tokens = {spelling.get(t, t) for t in tokenize(question)}
    rarest = max(idf.values(), default=1.0)
    return {t: idf.get(t, rarest) for t in tokens}
