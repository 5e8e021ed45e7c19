"""The rule-based entity extractor shared by NLU and the advisors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from knowledge.entities import display_name, extract, first, parse_amount, vocabulary


def values(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for entity in extract(text):
        found.setdefault(entity.entity, []).append(entity.value)
    return found


@pytest.mark.parametrize("text", ["shipping from Yiwu", "义乌发货", "the Jinyi area", "金义片区有什么政策"])
def test_yiwu_jinhua_and_jinyi_are_one_zone(text: str) -> None:
    assert values(text)["zone"] == ["jinyi"]


def test_zones_countries_and_codes_in_one_mixed_message() -> None:
    found = values("宁波出口到越南用9810还是9710")
    assert found["zone"] == ["ningbo"]
    assert found["country"] == ["Vietnam"]
    assert found["customs_code"] == ["9810", "9710"]


def test_english_names_need_word_boundaries() -> None:
    assert "country" not in values("the chinagreat trade")
    assert "country" not in values("tell us about it")  # "us" is a word, not the United States
    assert values("ship to the usa")["country"] == ["United States"]


def test_the_longest_name_wins() -> None:
    assert values("invest in papua new guinea")["country"] == ["Papua New Guinea"]


def test_offsets_point_at_the_mention() -> None:
    text = "what about Ningbo?"
    [entity] = [e for e in extract(text) if e.entity == "zone"]
    assert text[entity.start : entity.end] == "Ningbo" == entity.text


@pytest.mark.parametrize(
    ("text", "value", "currency"),
    [
        ("USD 5 million", Decimal(5_000_000), "USD"),
        ("$300,000,000", Decimal(300_000_000), "USD"),
        ("3亿美元", Decimal(300_000_000), "USD"),
        ("500万 美金", Decimal(5_000_000), "USD"),
        ("2.5m dollars", Decimal(2_500_000), "USD"),
        ("RMB 20 million", Decimal(20_000_000), "CNY"),
        ("1000万元人民币", Decimal(10_000_000), "CNY"),
        ("€3bn", Decimal(3_000_000_000), "EUR"),
        ("120000", Decimal(120_000), None),
    ],
)
def test_amounts_with_multipliers_and_currencies(text: str, value: Decimal, currency: str | None) -> None:
    amount = parse_amount(text)
    assert amount is not None and (amount.value, amount.currency) == (value, currency)


def test_a_customs_code_or_a_year_is_not_an_amount() -> None:
    assert "amount" not in values("what is 9610")
    assert "amount" not in values("changes since 2020")
    assert "amount" not in values("9610 b2c parcels")
    assert values("invest USD 5m in Vietnam")["amount"] == ["USD 5000000"]


def test_industries_carry_their_catalogue_status() -> None:
    assert first("we build hotels", "industry") == "hotels"
    assert first("房地产开发", "industry") == "real_estate"
    assert vocabulary()["industry"]["real_estate"]["catalogue"] == "restricted"
    assert vocabulary()["industry"]["weapons"]["catalogue"] == "sensitive"
    assert vocabulary()["industry"]["manufacturing"]["catalogue"] == "none"


def test_vocabulary_aliases_are_unique_within_a_type() -> None:
    for kind, entries in vocabulary().items():
        seen: dict[str, str] = {}
        for value, entry in entries.items():
            for name in [*(entry.get("en") or []), *(entry.get("zh") or [])]:
                assert seen.setdefault(str(name).lower(), value) == value, (
                    f"{kind}: {name!r} names {seen[str(name).lower()]} and {value}"
                )


def test_display_names_in_both_languages() -> None:
    assert display_name("country", "Vietnam", "zh") == "越南"
    assert display_name("country", "Vietnam", "en") == "Vietnam"
    assert display_name("zone", "jinyi", "zh")
