"""A whole advisor case in one message: advised at once, or the form asks only what is missing."""

from __future__ import annotations

import asyncio

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import knowledge_base
from actions.advisors import ValidateOdiForm
from actions.answers import ActionAnswerQuestion
from actions.cases import read_case
from knowledge.search import HybridRetriever
from tests.actions.helpers import make_tracker, run, slot_events


@pytest.fixture(autouse=True)
def _knowledge(retriever: HybridRetriever) -> None:
    knowledge_base.use(retriever)


@pytest.mark.parametrize(
    ("text", "slots"),
    [
        (
            "Our private company in Ningbo wants to invest USD 50 million in a factory in Vietnam. What do we need?",
            {
                "odi_investor_type": "private",
                "odi_destination": "Vietnam",
                "odi_industry": "manufacturing",
                "odi_amount_usd": "50000000",
                "odi_offshore": "no",
            },
        ),
        (
            "Central SOE, USD 500 million, hotel in London",
            {
                "odi_investor_type": "central_soe",
                "odi_destination": "United Kingdom",
                "odi_industry": "hotels",
                "odi_amount_usd": "500000000",
                "odi_offshore": "no",
            },
        ),
        (
            "民营企业去越南投资5000万美元建工厂，要办什么手续？",
            {
                "odi_investor_type": "private",
                "odi_destination": "Vietnam",
                "odi_industry": "manufacturing",
                "odi_amount_usd": "50000000",
                "odi_offshore": "no",
            },
        ),
        ("我们是义乌的小商品出口商，用什么报关方式？", {"customs_direction": "export", "customs_buyer": "market"}),
    ],
)
def test_a_full_case_is_read_from_one_message(text: str, slots: dict[str, str]) -> None:
    case = read_case(text)
    assert case is not None and case.slots == slots and case.missing == ()


@pytest.mark.parametrize(
    "text",
    [
        "What is the NDRC threshold for central SOEs investing abroad?",
        "Can a private company invest in Vietnam?",
        "how long does the Yiwu to Madrid train take",
        "义乌市场采购能退税吗",
    ],
)
def test_an_ordinary_question_is_not_taken_for_a_case(text: str) -> None:
    assert read_case(text) is None


def test_a_central_soe_hotel_in_london_gets_national_approval_with_the_commerce_and_bank_steps() -> None:
    messages, events = run(ActionAnswerQuestion(), make_tracker("Central SOE, USD 500 million, hotel in London"))
    [message] = messages
    text = message["text"]
    assert "national NDRC" in text and "approval" in text  # hotels are sensitive: approval, whatever the sum
    assert "MOFCOM" in text and "bank" in text.lower()
    assert "assumed the money" in text  # it says what it took for granted
    assert message["custom"]["citations"]
    assert slot_events(events)["last_doc_ids"] == [c["doc_id"] for c in message["custom"]["citations"]]


def test_a_yiwu_small_goods_exporter_is_told_1039_in_chinese() -> None:
    tracker = make_tracker("我们是义乌的小商品出口商，用什么报关方式？", slots={"language": "zh"})
    [message], _ = run(ActionAnswerQuestion(), tracker)
    assert "1039" in message["text"] and "15万美元" in message["text"]
    assert message["custom"]["citations"]


def test_a_partial_case_starts_the_advisor_with_what_is_known() -> None:
    tracker = make_tracker("We want to invest USD 8 million in a garment plant in Cambodia. What filings do we need?")
    messages, events = run(ActionAnswerQuestion(), tracker)
    assert "Cambodia" in messages[0]["text"] and "1 more question" in messages[0]["text"]
    assert slot_events(events) == {
        "odi_destination": "Cambodia",
        "odi_industry": "textiles_apparel",
        "odi_amount_usd": "8000000",
        "odi_offshore": "no",
    }
    assert {"event": "followup", "name": "odi_form"} in [{k: e.get(k) for k in ("event", "name")} for e in events]


def test_the_form_opened_with_a_case_keeps_what_the_message_said() -> None:
    text = "guide me through the ODI filing: private company, USD 5 million, electronics factory in Malaysia"
    tracker = make_tracker(text, intent="start_odi_advisor", active_loop="odi_form")
    domain = {
        "forms": {
            "odi_form": {
                "required_slots": [
                    "odi_investor_type",
                    "odi_destination",
                    "odi_industry",
                    "odi_amount_usd",
                    "odi_offshore",
                ]
            }
        },
        "slots": {},
    }
    events = asyncio.run(ValidateOdiForm().run(CollectingDispatcher(), tracker, domain))
    assert slot_events(events) == {
        "odi_investor_type": "private",
        "odi_destination": "Malaysia",
        "odi_industry": "electronics",
        "odi_amount_usd": "5000000",
    }  # where the money comes from was not said: the form still asks it
