"""Language detection and tokenisation shared by NLU, search and the gateway.

Detection is a character count, not a model: traders write short, mixed messages ("9710和9810区别",
"ODI备案要多久") where statistical detectors guess badly. Han characters count against Latin letters
weighted by an average English word length, so a Chinese sentence with an English code stays Chinese
and an English sentence quoting one Chinese term stays English.

This module must import only the standard library at import time (Rasa's pipeline imports it).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Literal

Language = Literal["en", "zh"]
SUPPORTED_LANGUAGES: tuple[Language, ...] = ("en", "zh")

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
# Latin letters per Han character of equal weight: "customs" (7 letters) ~ "海关" (2 characters).
_LETTERS_PER_HAN = 3.0
# Identifiers a trader types: customs codes (9610), HS codes (8517.62), document numbers (2021-47).
_IDENTIFIER = re.compile(r"(?<![\d.])\d{4}(?:[.\-]\d{2,6})*(?![\d])")
_EN_WORD = re.compile(r"[a-z0-9]+(?:[.\-'][a-z0-9]+)*")
# Raised when ``tokenize`` changes: an index records it, and `make prepare` re-indexes on a change
# (the stored passage tokens must be cut as queries are). 2: hyphenated words also give their parts.
TOKENIZER_VERSION = 2

_EN_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "their",
        "there",
        "this",
        "to",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)
_ZH_STOPWORDS = frozenset(
    [
        "的",
        "了",
        "吗",
        "呢",
        "吧",
        "啊",
        "是",
        "在",
        "和",
        "与",
        "及",
        "或",
        "我",
        "我们",
        "你",
        "你们",
        "他",
        "她",
        "它",
        "这",
        "那",
        "有",
        "什么",
        "怎么",
        "如何",
        "请问",
        "一下",
        "可以",
        "能",
        "要",
        "会",
        "就",
        "都",
        "也",
        "还",
        "把",
        "被",
        "给",
        "对",
        "从",
        "到",
        "为",
        "以",
        "之",
        "其",
        "个",
        "们",
    ]
)


_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def spelling_variants(word: str) -> set[str]:
    """Every word one edit away (delete, swap, replace, insert a letter): candidates for a typo."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    swaps = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    inserts = {a + c + b for a, b in splits for c in _LETTERS}
    return (deletes | swaps | replaces | inserts) - {word}


def detect_language(text: str) -> Language | None:
    """Return ``"zh"`` or ``"en"`` for text with a clear language, ``None`` otherwise."""
    han = len(_HAN.findall(text))
    latin = len(_LATIN.findall(text))
    if han == 0 and latin < 2:
        return None
    return "zh" if han * _LETTERS_PER_HAN >= latin else "en"


def normalise(text: str) -> str:
    """NFKC-fold (full-width digits and letters to ASCII) and lower-case."""
    return unicodedata.normalize("NFKC", text).lower()


def identifiers(text: str) -> list[str]:
    """Codes and numbers a trader expects to be matched exactly (9610, 8517.62, 2021-47)."""
    return _IDENTIFIER.findall(normalise(text))


@lru_cache(maxsize=1)
def _jieba():  # type: ignore[no-untyped-def]
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def _singular(word: str) -> str:
    """A light plural fold: "zones" -> "zone", not "class" or "2020s"."""
    if len(word) > 4 and word.endswith("s") and not word.endswith("ss") and not word[-2].isdigit():
        return word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """Search tokens for BM25: jieba words for Han text, lower-case words for the rest.

    Han runs are cut by jieba in search mode (``cut_for_search`` also emits the sub-words of long
    compounds, so "跨境电子商务" matches "电子商务"); Latin runs become lower-case words with a light
    plural fold, a hyphenated word also yields its parts, and "what's" is "what". Stopwords of both
    languages are dropped.
    """
    text = normalise(text)
    tokens: list[str] = []
    for han_run, other_run in re.findall(r"([\u3400-\u9fff\uf900-\ufaff]+)|([^\u3400-\u9fff\uf900-\ufaff]+)", text):
        if han_run:
            tokens.extend(
                word for word in _jieba().cut_for_search(han_run) if word.strip() and word not in _ZH_STOPWORDS
            )
        else:
            for word in _EN_WORD.findall(other_run):
                if "'" in word:  # "what's" -> "what", "we're" -> "we", "don't" -> "do"
                    stem, _, ending = word.partition("'")
                    word = stem[:-1] if ending == "t" and stem.endswith("n") else stem
                if not word or word in _EN_STOPWORDS:
                    continue
                tokens.append(_singular(word))
                if "-" in word:  # "yiwu-madrid" is also "yiwu" and "madrid"; "e-commerce" stays whole too
                    tokens.extend(
                        _singular(part) for part in word.split("-") if len(part) > 1 and part not in _EN_STOPWORDS
                    )
    return tokens
