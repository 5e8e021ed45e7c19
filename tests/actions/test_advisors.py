"""The advisors: answers parsed and checked, questions narrowed, routes grounded in the knowledge base."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import knowledge_base
from actions.advice import customs_mode, odi_route
from actions.advisors import (
    ActionRecommendCustomsMode,
    ActionRecommendOdiRoute,
    ValidateCustomsForm,
    ValidateOdiForm,
)
from knowledge.search import HybridRetriever
from tests.actions.helpers import make_tracker, run, slot_events


@pytest.fixture(autouse=True)
def _knowledge(retriever: HybridRetriever) -> None:
    knowledge_base.use(retriever)


def validate(form: Any, slot: str, text: str, **kwargs: Any) -> tuple[dict[str, Any], list[str]]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(text, active_loop=form.form_name(), **kwargs)
    result = asyncio.run(getattr(form, f"validate_{slot}")(text, dispatcher, tracker, {}))
    return result, [m["text"] for m in dispatcher.messages]


# --- outbound investment: validation ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Private company", "private"),
        ("民营企业", "private"),
        ("中央企业", "central_soe"),
        ("we are a local SOE", "local_soe"),
    ],
)
def test_investor_type_is_understood_in_both_languages(text: str, expected: str) -> None:
    assert validate(ValidateOdiForm(), "odi_investor_type", text)[0] == {"odi_investor_type": expected}


@pytest.mark.parametrize(
    ("text", "expected"), [("Vietnam", "Vietnam"), ("越南", "Vietnam"), ("we're going to Germany", "Germany")]
)
def test_destination_is_a_known_country(text: str, expected: str) -> None:
    assert validate(ValidateOdiForm(), "odi_destination", text)[0] == {"odi_destination": expected}


def test_an_unknown_country_is_asked_again_with_the_reason() -> None:
    result, said = validate(ValidateOdiForm(), "odi_destination", "Atlantis")
    assert result == {"odi_destination": None}
    assert "Atlantis" in said[0] and "country" in said[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("USD 5 million", "5000000"),
        ("500万美元", "5000000"),
        ("3亿美元", "300000000"),
        ("$2,500,000", "2500000"),
        ("300000000", "300000000"),
    ],
)
def test_amounts_are_read_in_us_dollars(text: str, expected: str) -> None:
    assert validate(ValidateOdiForm(), "odi_amount_usd", text)[0] == {"odi_amount_usd": expected}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("-5 million", "does not look right"),
        ("0", "does not look right"),
        ("RMB 50 million", "US dollars"),
        ("a lot", "digits"),
    ],
)
def test_unusable_amounts_are_asked_again(text: str, reason: str) -> None:
    result, said = validate(ValidateOdiForm(), "odi_amount_usd", text)
    assert result == {"odi_amount_usd": None}
    assert reason in said[0]


def test_an_absurd_amount_is_refused_in_chinese_too() -> None:
    result, said = validate(ValidateOdiForm(), "odi_amount_usd", "99999999亿美元", slots={"language": "zh"})
    assert result == {"odi_amount_usd": None} and "金额" in said[0]


@pytest.mark.parametrize(
    ("text", "slot"), [("stop", "odi_destination"), ("取消", "odi_amount_usd"), ("算了", "odi_investor_type")]
)
def test_stop_or_cancel_leaves_the_advisor(text: str, slot: str) -> None:
    result, said = validate(ValidateOdiForm(), slot, text, intent="stop")
    assert result == {slot: None, "advisor_exit": "stop"} and said == []


def test_asking_for_a_person_mid_form_leaves_it_for_the_handoff() -> None:
    result, _ = validate(
        ValidateOdiForm(), "odi_destination", "I want to talk to a human", intent="request_human", confidence=0.9
    )
    assert result["advisor_exit"] == "human"
    _, events = run(ActionRecommendOdiRoute(), make_tracker("", slots={"advisor_exit": "human"}))
    assert any(e.get("event") == "followup" and e.get("name") == "action_request_human" for e in events)


def test_after_stop_the_advisor_asks_nothing_more() -> None:
    tracker = make_tracker("stop", slots={"advisor_exit": "stop"})
    required = asyncio.run(ValidateOdiForm().required_slots(["odi_investor_type"], CollectingDispatcher(), tracker, {}))
    assert required == []


# --- outbound investment: the route -----------------------------------------------------------


def _route(investor: str, industry: str, amount: int, offshore: bool = False, lang: str = "en") -> str:
    lines, _ = odi_route(investor, "Vietnam", industry, Decimal(amount), offshore, lang)
    return "\n".join(lines)


def test_a_small_private_project_files_with_the_zhejiang_drc() -> None:
    route = _route("private", "manufacturing", 5_000_000)
    assert "Zhejiang Provincial Development and Reform Commission" in route
    assert "Zhejiang Provincial Department of Commerce" in route and "bank" in route


def test_usd_300_million_or_more_files_with_the_national_ndrc() -> None:
    assert "national NDRC (USD 300 million or more)" in _route("private", "manufacturing", 300_000_000)
    assert "national NDRC" in _route("central_soe", "manufacturing", 1_000_000)
    assert "MOFCOM and obtain" in _route("central_soe", "manufacturing", 1_000_000)


def test_a_sensitive_industry_needs_national_approval_whatever_the_amount() -> None:
    assert "approval by the national NDRC" in _route("private", "news_media", 1_000)
    assert "national NDRC approval" in _route("private", "real_estate", 1_000)


def test_an_offshore_vehicle_without_china_money_needs_no_ndrc_step_but_a_report_when_large() -> None:
    assert "neither approval nor filing" in _route("private", "manufacturing", 10_000_000, offshore=True)
    assert "report" in _route("private", "manufacturing", 500_000_000, offshore=True)


def test_gambling_is_prohibited() -> None:
    assert "prohibited" in _route("private", "gambling", 1_000_000)


def test_the_route_is_explained_in_chinese_with_citations_from_the_knowledge_base() -> None:
    slots = {
        "language": "zh",
        "odi_investor_type": "private",
        "odi_destination": "Vietnam",
        "odi_industry": "manufacturing",
        "odi_amount_usd": "5000000",
        "odi_offshore": "no",
    }
    messages, events = run(ActionRecommendOdiRoute(), make_tracker("否", slots=slots))
    [message] = messages
    assert "浙江省发展改革委" in message["text"] and "越南" in message["text"]
    assert "需要准备的材料" in message["text"]
    cited = {c["doc_id"] for c in message["custom"]["citations"]}
    assert {"odi-ndrc-approval-vs-filing.zh", "howto-file-odi.zh"} <= cited
    # The answers are cleared so the advisor can run again from the start; a thumbs up / down on
    # the recommendation is recorded against it.
    slots = slot_events(events)
    assert all(slots[name] is None for name in slots if name.startswith("odi_") or name == "advisor_exit")
    assert slots["last_doc_ids"] == [c["doc_id"] for c in message["custom"]["citations"]]
    assert [b["payload"] for b in message["buttons"]] == ["/feedback_good", "/feedback_bad", "/request_human"]


# --- customs mode -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (("export", None, "consumers", None), "9610"),
        (("export", None, "platform", "direct"), "9710"),
        (("export", None, "platform", "warehouse"), "9810"),
        (("export", None, "market", None), "1039"),
        (("export", None, "contract", None), "0110"),
        (("import", "bonded", None, None), "1210"),
        (("import", "parcel", None, None), "9610-import"),
    ],
)
def test_each_situation_gets_its_code(answers: tuple[Any, ...], expected: str) -> None:
    assert customs_mode(*answers) == expected


@pytest.mark.parametrize(
    ("slot", "text", "value"),
    [
        ("customs_direction", "出口", "export"),
        ("customs_direction", "Import", "import"),
        ("customs_buyer", "A foreign company, via an e-commerce platform", "platform"),
        ("customs_buyer", "在义乌市场采购后出口", "market"),
        ("customs_buyer", "境外个人消费者，发包裹", "consumers"),
        ("customs_route", "先发到海外仓", "warehouse"),
        ("customs_import_stock", "Stock in a bonded area", "bonded"),
    ],
)
def test_button_and_typed_answers_are_understood(slot: str, text: str, value: str) -> None:
    assert validate(ValidateCustomsForm(), slot, text)[0] == {slot: value}


def test_the_customs_advisor_asks_only_what_the_code_depends_on() -> None:
    def required(**slots: Any) -> list[str]:
        tracker = make_tracker("", slots=slots)
        return asyncio.run(ValidateCustomsForm().required_slots([], CollectingDispatcher(), tracker, {}))

    assert required() == ["customs_direction"]
    assert required(customs_direction="import") == ["customs_direction", "customs_import_stock"]
    assert required(customs_direction="export", customs_buyer="consumers") == ["customs_direction", "customs_buyer"]
    assert required(customs_direction="export", customs_buyer="platform")[-1] == "customs_route"


def test_an_unclear_answer_is_asked_again() -> None:
    result, said = validate(ValidateCustomsForm(), "customs_direction", "purple")
    assert result == {"customs_direction": None} and "buttons" in said[0]


def test_the_recommendation_says_why_and_quotes_what_to_prepare() -> None:
    slots = {"customs_direction": "export", "customs_buyer": "platform", "customs_route": "warehouse"}
    [message], _ = run(ActionRecommendCustomsMode(), make_tracker("To an overseas warehouse first", slots=slots))
    assert "Recommended: 9810" in message["text"]
    assert "overseas warehouse" in message["text"] and "What to prepare" in message["text"]
    assert message["custom"]["citations"][0]["doc_id"] == "howto-choose-customs-code.en"


def test_the_chinese_recommendation_is_in_chinese() -> None:
    slots = {"language": "zh", "customs_direction": "export", "customs_buyer": "market"}
    [message], _ = run(ActionRecommendCustomsMode(), make_tracker("在义乌市场采购后出口", slots=slots))
    assert "1039" in message["text"] and "不退增值税" in message["text"]
    assert message["custom"]["citations"][0]["doc_id"] == "howto-choose-customs-code.zh"


def test_stopping_the_customs_advisor_says_so() -> None:
    [message], events = run(ActionRecommendCustomsMode(), make_tracker("stop", slots={"advisor_exit": "stop"}))
    assert "stopped" in message["text"]
    assert slot_events(events)["advisor_exit"] is None
