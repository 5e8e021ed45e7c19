"""A whole advisor case in one message: "Our private company in Ningbo wants to invest USD 50 million in
a factory in Vietnam. What do we need?" or "我们是义乌的小商品出口商，用什么报关方式？".

``read_case`` finds what the outbound investment advisor or the customs mode advisor needs in the
message itself, with the advisors' own parsers. The answer action then gives the advisor's result at
once when nothing is missing, or starts the advisor with what is known so that it asks only the rest.

It must not take an ordinary question for a case: an ODI case needs an investment verb, a destination
and two of investor, industry and amount; a customs case needs the question "which code / mode" and
the facts the code depends on (a direction, and a buyer for exports).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from actions.advice import (
    DIRECTIONS,
    IMPORT_STOCK,
    INVESTOR_NAMES,
    ROUTES,
    amount_text,
    customs_mode,
    industry_name,
    keywords,
)
from knowledge import entities

_INVESTS = re.compile(
    r"\b(?:invest(?:s|ing|ment)?|acquir(?:e|es|ing)|buy(?:ing)? (?:a|an|the)|take over|set(?:ting)? up|build(?:ing)?|"
    r"open(?:ing)? (?:a|an)|put (?:usd|us\$|\$)|factory|plant|subsidiary)\b|投资|收购|并购|建厂|设厂|开厂|办厂|设立|入股|买下",
    re.IGNORECASE,
)
_ASKS_FOR_CODE = re.compile(
    r"which (?:customs )?(?:code|mode|regime)|what (?:customs )?(?:code|mode|regime)|customs (?:code|mode)|"
    r"supervision mode|declare (?:it|them|under)|报关方式|监管方式|申报方式|什么方式报关|用什么代码|哪个代码|走什么方式|走哪种",
    re.IGNORECASE,
)
# Where the money comes from an overseas company, not from China: the advisor's fifth question.
_OFFSHORE = re.compile(
    r"(?:our|its|the) (?:hk|hong kong|overseas|offshore|singapore|foreign) (?:subsidiary|company|entity|vehicle)|"
    r"no (?:money|guarantee|cash|funds?) from (?:china|the (?:zhejiang |chinese )?parent)|境外子公司|香港子公司|境外公司出资|"
    r"不用境内资金|不使用境内",
    re.IGNORECASE,
)
_HOME_COUNTRY = "China"
# Who invests, read from a whole message. The form's table (INVESTOR_TYPES) reads an answer to
# "who is the investor?", where "provincial" means a provincial SOE; in a message it may be "the
# provincial DRC", so here the words must name the kind of company.
CASE_INVESTORS: dict[str, tuple[str, ...]] = {
    "central_soe": ("central soe", "central state", "central enterprise", "央企", "中央企业", "中央管理企业"),
    "local_soe": (
        "local soe",
        "provincial soe",
        "municipal soe",
        "local state-owned",
        "provincial state-owned",
        "state-owned",
        "地方国企",
        "省属国企",
        "市属国企",
        "地方国有",
        "国有企业",
        "国企",
    ),
    "private": ("private", "listed company", "family company", "民营", "私营", "民企", "上市公司", "家族企业"),
}
# The message is about the writer's own project: "we", "our company", "我们", "我司".
_OWN_CASE = re.compile(r"\b(?:we|our|us|my)\b|我们|我司|我公司|本公司|咱们|我们公司", re.IGNORECASE)
# "We sell ... to a retailer in Poland": an export even without the word.
_SELLS_ABROAD = re.compile(r"\b(?:sell|ship|send|supply)\b.*\bto\b|卖到|卖给|发往|销往|发货到|出货到", re.IGNORECASE)
# Who buys, read from a whole message: unlike the advisor's answer to "who buys?", a message names
# places too, so "Yiwu" alone does not make a market-procurement case (the advisor's BUYERS table).
CASE_BUYERS: dict[str, tuple[str, ...]] = {
    "consumers": (
        "consumer",
        "individual buyer",
        "each order",
        "parcel",
        "b2c",
        "消费者",
        "个人买家",
        "包裹",
        "每个订单",
        "每单",
    ),
    "market": ("market procurement", "small commodit", "yiwu market", "市场采购", "小商品", "义乌市场", "市场里"),
    "platform": ("b2b platform", "cross-border platform", "on a platform", "跨境电商平台", "b2b平台"),
    "contract": (
        "contract",
        "b2b",
        "importer",
        "retailer",
        "distributor",
        "general trade",
        "合同",
        "一般贸易",
        "进口商",
        "经销商",
    ),
}


@dataclass(frozen=True)
class Case:
    """Slots an advisor form needs, as read from one message; ``missing`` are the ones to ask."""

    form: str
    slots: dict[str, str]
    missing: tuple[str, ...] = field(default=())
    assumed: tuple[str, ...] = field(default=())  # slots filled by a default the reply must state


def read_case(text: str) -> Case | None:
    """The advisor case ``text`` states, or None for an ordinary question."""
    return _odi_case(text) or _customs_case(text)


def _odi_case(text: str) -> Case | None:
    destination = _destination(text)
    if destination is None:
        return None
    investor = keywords(text, CASE_INVESTORS)
    amount = entities.parse_amount(text)
    if not _INVESTS.search(text) and not (investor and amount):  # "Central SOE, USD 500m, hotel in London"
        return None
    if amount is None and not _OWN_CASE.search(text):
        return None  # "what did the 2020 plan say about ports in Africa" is not somebody's investment
    slots = {"odi_destination": destination}
    if investor:
        slots["odi_investor_type"] = investor
    if industry := entities.first(text, "industry"):
        slots["odi_industry"] = industry
    if amount is not None and amount.currency == "USD" and amount.value > 0:
        slots["odi_amount_usd"] = format(amount.value.normalize(), "f")
    if len(slots) < 3:  # a destination and at most one more fact: a question about rules, not a case
        return None
    assumed: tuple[str, ...] = ()
    if _OFFSHORE.search(text):
        slots["odi_offshore"] = "yes"
        # An overseas company's own investment: the parent's type changes nothing in the route.
        slots.setdefault("odi_investor_type", "unstated")
    else:
        slots["odi_offshore"], assumed = "no", ("odi_offshore",)
    order = ("odi_investor_type", "odi_destination", "odi_industry", "odi_amount_usd", "odi_offshore")
    return Case("odi_form", slots, tuple(s for s in order if s not in slots), assumed)


_TARGET_BEFORE = re.compile(
    r"(?:\b(?:in|into|to|acquire|buy|buying|take over)\s+(?:a |an |the )?|去|到|在|赴|收购|并购)$", re.IGNORECASE
)


def _destination(text: str) -> str | None:
    """The country invested in: the first named where an investment goes ("in Vietnam", "buy a German
    maker", "去越南"), else the last named; never China itself."""
    folded = entities.normalise(text)
    abroad = [e for e in entities.extract(text) if e.entity == "country" and e.value != _HOME_COUNTRY]
    targets = [e for e in abroad if _TARGET_BEFORE.search(folded[max(0, e.start - 16) : e.start])]
    chosen = targets[0] if targets else (abroad[-1] if abroad else None)
    return chosen.value if chosen else None


def _customs_case(text: str) -> Case | None:
    if not _ASKS_FOR_CODE.search(text):
        return None
    direction = keywords(text, DIRECTIONS)
    if direction is None and _SELLS_ABROAD.search(text):
        abroad = [e for e in entities.extract(text) if e.entity == "country" and e.value != _HOME_COUNTRY]
        direction = "export" if abroad else None
    if direction is None:
        return None
    slots = {"customs_direction": direction}
    if direction == "import":
        if stock := keywords(text, IMPORT_STOCK):
            slots["customs_import_stock"] = stock
        needed = ["customs_direction", "customs_import_stock"]
    else:
        buyer = keywords(text, CASE_BUYERS)
        if buyer is None:
            return None
        slots["customs_buyer"] = buyer
        needed = ["customs_direction", "customs_buyer"]
        if buyer == "platform":
            needed.append("customs_route")
            if route := keywords(text, ROUTES):
                slots["customs_route"] = route
    return Case("customs_form", slots, tuple(s for s in needed if s not in slots))


def customs_result(case: Case) -> str:
    """The ``customs_mode`` code for a complete customs case."""
    slots = case.slots
    return customs_mode(
        slots["customs_direction"],
        slots.get("customs_import_stock"),
        slots.get("customs_buyer"),
        slots.get("customs_route"),
    )


CASE_TEXT = {
    "en": {
        "assumed_onshore": (
            "I have assumed the money (and any guarantee) comes from China, not from an overseas company "
            "you control; if it does not, say so and I will work it out again."
        ),
        "known": "From your message: {known}. {count} more question{s} to work out your route:",
    },
    "zh": {
        "assumed_onshore": "以下按资金（及担保）来自境内、而非您控制的境外企业计算；如不是这样，请告诉我，我重新判断。",
        "known": "根据您的描述：{known}。还需要回答{count}个问题：",
    },
}


def known_facts(case: Case, lang: str) -> str:
    """What the message told the advisor, in the trader's language ("private company, Vietnam")."""
    parts = []
    for slot, value in case.slots.items():
        if slot in case.assumed:
            continue
        if slot == "odi_investor_type" and value != "unstated":
            parts.append(INVESTOR_NAMES[lang][value])
        elif slot == "odi_destination":
            parts.append(entities.display_name("country", value, lang))
        elif slot == "odi_industry":
            parts.append(industry_name(value, lang))
        elif slot == "odi_amount_usd":
            parts.append(
                ("USD " if lang == "en" else "") + amount_text(Decimal(value), lang) + ("" if lang == "en" else "美元")
            )
    return ("、" if lang == "zh" else ", ").join(parts)
