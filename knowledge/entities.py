"""What a trader's message names: zones, countries, industries, customs codes and amounts of money.

One rule-based extractor serves Rasa's NLU pipeline (``nlu_components.entities``) and the advisors'
slot validators, so "义乌", "Yiwu" and "jinyi" become the same ``jinyi`` zone everywhere. It is rules,
not a trained model, because the values are closed lists (four FTZ areas, the world's countries, a
handful of customs codes) and because Chinese names need substring matching while English names need
word boundaries, which Rasa's ``RegexEntityExtractor`` cannot do in one pipeline.

The names live in ``knowledge/vocabulary.yaml``. This module imports only the standard library and
PyYAML (both Python environments have them) and must not import the search engine.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

VOCABULARY_FILE = Path(__file__).with_name("vocabulary.yaml")
ENTITY_TYPES = ("zone", "country", "industry", "customs_code", "amount")

CUSTOMS_CODES = ("9610", "9710", "9810", "1210", "1239", "1039", "0110")
_CUSTOMS_CODE = re.compile(r"(?<![\d.])(" + "|".join(CUSTOMS_CODES) + r")(?![\d.])")
_HAN = re.compile(r"[\u3400-\u9fff]")

# An amount: a number (with thousands separators or decimals), an optional multiplier word, and a
# currency before or after it. "USD 5m", "$300,000,000", "3亿美元", "500万 美金", "2.5 million dollars".
_NUMBER = r"(?P<number>\d+(?:[,，]\d{3})*(?:\.\d+)?)"
_MULTIPLIER = r"(?P<multiplier>(?:k|thousand|mn|mln|million|m|bn|billion|b)(?![a-z0-9])|千万|百万|十亿|千|万|亿)?"
_CURRENCY = (
    r"(?P<currency>(?:us\$|usd|us dollars?|dollars?|rmb|cny|yuan|eur|euros?|hkd)(?![a-z])"
    r"|\$|¥|￥|€|美元|美金|人民币|元|欧元|港币|港元)"
)
_AMOUNT = re.compile(
    rf"(?:{_CURRENCY.replace('currency', 'pre')}\s*{_NUMBER}\s*{_MULTIPLIER})"
    rf"|(?:{_NUMBER.replace('number', 'number2')}\s*{_MULTIPLIER.replace('multiplier', 'multiplier2')}\s*{_CURRENCY})"
    rf"|(?:{_NUMBER.replace('number', 'number3')}\s*{_MULTIPLIER.replace('multiplier', 'multiplier3')})",
    re.IGNORECASE,
)
_MULTIPLIERS = {
    "": 1,
    "k": 10**3,
    "thousand": 10**3,
    "千": 10**3,
    "万": 10**4,
    "m": 10**6,
    "mn": 10**6,
    "mln": 10**6,
    "million": 10**6,
    "百万": 10**6,
    "千万": 10**7,
    "亿": 10**8,
    "b": 10**9,
    "bn": 10**9,
    "billion": 10**9,
    "十亿": 10**9,
}
_CURRENCIES = {
    "USD": ("us$", "usd", "us dollar", "us dollars", "dollar", "dollars", "$", "美元", "美金"),
    "CNY": ("rmb", "cny", "yuan", "人民币", "元", "¥", "￥"),
    "EUR": ("eur", "euro", "euros", "€", "欧元"),
    "HKD": ("hkd", "港币", "港元"),
}


@dataclass(frozen=True)
class Entity:
    """One mention: its type, canonical value and where it is in the (normalised) text."""

    entity: str
    value: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Amount:
    value: Decimal
    currency: str | None  # ISO code, or None when the trader gave no currency

    @property
    def canonical(self) -> str:
        number = format(self.value.normalize(), "f")
        return f"{self.currency} {number}" if self.currency else number


def normalise(text: str) -> str:
    """NFKC (full-width digits and letters become ASCII) and lower case; lengths are kept."""
    chars = (unicodedata.normalize("NFKC", ch) for ch in text)
    return "".join(ch if len(ch) == 1 else orig for ch, orig in zip(chars, text, strict=True)).lower()


@dataclass(frozen=True)
class _Name:
    pattern: re.Pattern[str]
    entity: str
    value: str
    length: int
    # A literal every match contains (the name's first word): a cheap `in` test skips the regex
    # for the ~1,000 names a message does not mention.
    probe: str


@lru_cache(maxsize=1)
def vocabulary() -> dict[str, dict[str, dict[str, Any]]]:
    """The entity vocabulary file, parsed (``{entity type: {canonical value: {...}}}``)."""
    data = yaml.safe_load(VOCABULARY_FILE.read_text(encoding="utf-8")) or {}
    return {kind: dict(data.get(kind) or {}) for kind in ("zone", "country", "industry")}


@lru_cache(maxsize=1)
def _names() -> tuple[_Name, ...]:
    names: list[_Name] = []
    for kind, values in vocabulary().items():
        for value, entry in values.items():
            for name in {*(entry.get("en") or ()), *(entry.get("zh") or ())}:
                name = normalise(str(name)).strip()
                if not name:
                    continue
                if _HAN.search(name):
                    pattern = re.compile(re.escape(name))
                else:
                    pattern = re.compile(
                        r"(?<![a-z0-9])" + re.escape(name).replace(r"\ ", r"[\s\-]*") + r"(?![a-z0-9])"
                    )
                names.append(_Name(pattern, kind, str(value), len(name), name.split()[0]))
    # Longest names first, so "papua new guinea" wins over "guinea" and "宁波片区" over "宁波".
    names.sort(key=lambda n: -n.length)
    return tuple(names)


def parse_amount(text: str) -> Amount | None:
    """The first amount of money in ``text`` ("USD 5 million" -> Amount(5000000, "USD"))."""
    match = _AMOUNT.search(normalise(text))
    if match is None:
        return None
    groups = {k: v for k, v in match.groupdict().items() if v is not None}
    number = groups.get("number") or groups.get("number2") or groups.get("number3") or "0"
    multiplier = groups.get("multiplier") or groups.get("multiplier2") or groups.get("multiplier3") or ""
    currency_word = (groups.get("pre") or groups.get("currency") or "").strip().lower()
    try:
        value = Decimal(number.replace(",", "").replace("，", "")) * _MULTIPLIERS[multiplier.lower()]
    except (InvalidOperation, KeyError):
        return None
    currency = next((code for code, words in _CURRENCIES.items() if currency_word in words), None)
    return Amount(value, currency)


def extract(text: str) -> list[Entity]:
    """Every zone, country, industry, customs code and amount in ``text``, without overlaps."""
    lowered = normalise(text)
    if len(lowered) != len(text):
        text = lowered  # offsets must index the text they are reported against
    taken = [False] * len(lowered)
    found: list[Entity] = []

    def claim(entity: str, value: str, start: int, end: int) -> None:
        if any(taken[start:end]):
            return
        taken[start:end] = [True] * (end - start)
        found.append(Entity(entity, value, start, end, text[start:end]))

    for match in _AMOUNT.finditer(lowered):
        groups = match.groupdict()
        has_unit = any(groups.get(g) for g in ("pre", "currency", "multiplier", "multiplier3"))
        if not has_unit or _CUSTOMS_CODE.fullmatch(match.group(0).strip()):
            continue  # a bare number ("9610", "2020") is not an amount of money
        amount = parse_amount(match.group(0))
        if amount is not None:
            claim("amount", amount.canonical, match.start(), match.end())
    for match in _CUSTOMS_CODE.finditer(lowered):
        claim("customs_code", match.group(1), match.start(1), match.end(1))
    for name in _names():
        if name.probe not in lowered:
            continue
        for match in name.pattern.finditer(lowered):
            claim(name.entity, name.value, match.start(), match.end())
    return sorted(found, key=lambda e: e.start)


def first(text: str, entity: str) -> str | None:
    """The canonical value of the first ``entity`` mention in ``text``, if any."""
    return next((e.value for e in extract(text) if e.entity == entity), None)


def display_name(entity: str, value: str, lang: str) -> str:
    """How to write a canonical value back to the trader ("Vietnam" / "越南")."""
    entry = vocabulary().get(entity, {}).get(value) or {}
    if lang == "zh":
        if entry.get("zh_name"):
            return str(entry["zh_name"])
        if entry.get("zh"):
            return str(entry["zh"][0])
    if entity == "country":
        return value
    names = entry.get("en") or [value]
    return str(names[0])
