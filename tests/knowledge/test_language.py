from __future__ import annotations

import pytest

from knowledge.language import detect_language, identifiers, tokenize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("how do I file an outbound investment", "en"),
        ("境外投资怎么备案", "zh"),
        ("9710和9810有什么区别", "zh"),
        ("ODI备案要多久", "zh"),
        ("what does 三单对碰 mean for cross-border sellers", "en"),
        ("9610", None),
        ("👍👍", None),
        ("?!", None),
    ],
)
def test_detects_the_language_a_trader_writes_in(text: str, expected: str | None) -> None:
    assert detect_language(text) == expected


def test_chinese_is_cut_into_words_and_sub_words() -> None:
    tokens = tokenize("跨境电子商务综合试验区")
    assert "电子商务" in tokens
    assert "试验区" in tokens


def test_english_words_are_lower_cased_without_stopwords_or_plurals() -> None:
    assert tokenize("What are the Customs codes for Parcels?") == ["custom", "code", "parcel"]


def test_full_width_codes_are_folded_to_ascii() -> None:
    assert tokenize("１２１０是什么") == ["1210"]
    assert identifiers("１２１０是什么") == ["1210"]


def test_identifiers_are_found_next_to_chinese_text_and_in_hs_form() -> None:
    assert identifiers("9710和9810区别") == ["9710", "9810"]
    assert identifiers("HS 8517.62 under 9610") == ["8517.62", "9610"]
    assert identifiers("no codes here, only 12 or 123") == []
