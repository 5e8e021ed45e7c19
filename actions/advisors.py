"""The two guided advisors: outbound investment (ODI) filings, and the customs supervision mode.

Each is a Rasa form. ``Validate<Form>`` parses the trader's answers (buttons send plain text, so a
typed answer works the same), re-asks with a reason when an answer cannot be used, narrows the
questions to the ones the result depends on, and ends the form early on "stop" / "取消" or a request
for a person. ``ActionRecommend<...>`` then works out the route from the answers and quotes the
knowledge base for what to prepare, with citations, so a staff edit to those documents changes the
advice too. The decision rules follow the knowledge base documents they cite; where those documents
say something is uncertain, so does the advice.
"""

from __future__ import annotations

import logging
import re
from decimal import Decimal
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import knowledge_base
from actions.advice import (
    BUYERS,
    CUSTOMS_SLOTS,
    CUSTOMS_SOURCES,
    CUSTOMS_TEXT,
    DIRECTIONS,
    IMPORT_STOCK,
    INVESTOR_NAMES,
    INVESTOR_TYPES,
    MAX_PLAUSIBLE_USD,
    ODI_SLOTS,
    ODI_TEXT,
    ROUTES,
    amount_text,
    customs_mode,
    industry_name,
    keywords,
    odi_route,
)
from actions.cases import read_case
from actions.language import reply_language
from knowledge import entities
from knowledge.answer_texts import TEXT as ANSWER_TEXT
from knowledge.answers import HUMAN_PAYLOAD, feedback_buttons, trim_to_sentence
from knowledge.passages import Passage

logger = logging.getLogger(__name__)

_STOP = re.compile(
    r"^\s*(stop|cancel|quit|exit|leave|forget it|never ?mind|取消|算了|退出|停止|不填了|不问了|结束)\b", re.IGNORECASE
)
_YES = re.compile(
    r"^\s*(y|yes|yeah|yep|sure|correct|right|true|是|是的|对|对的|有|没错|嗯)\s*[.!。！]*\s*$", re.IGNORECASE
)
_NO = re.compile(r"^\s*(n|no|nope|not really|false|否|不是|不|没有|不对|无)\s*[.!。！]*\s*$", re.IGNORECASE)


def _exit_requested(tracker: Tracker, text: str) -> str | None:
    intent = tracker.latest_message.get("intent") or {}
    name, confidence = intent.get("name"), float(intent.get("confidence") or 0.0)
    if name == "request_human" and confidence >= 0.6:
        return "human"
    if _STOP.match(text) or (name == "stop" and confidence >= 0.8):
        return "stop"
    return None


def opening_case(tracker: Tracker, form: str) -> list[dict[str, Any]]:
    """Slots the message that opened the form already answers ("guide me: private firm, USD 5m,
    factory in Vietnam"), so the form asks only the rest. Nothing on later turns, and nothing the
    message did not say (an assumed default is asked, not taken)."""
    if tracker.get_slot("requested_slot") is not None:
        return []
    case = read_case(tracker.latest_message.get("text") or "")
    if case is None or case.form != form:
        return []
    return [
        SlotSet(slot, value)
        for slot, value in case.slots.items()
        if slot not in case.assumed and value != "unstated" and tracker.get_slot(slot) is None
    ]


def _clear(slots: tuple[str, ...]) -> list[dict[str, Any]]:
    return [SlotSet(slot, None) for slot in (*slots, "advisor_exit")]


def _left_early(
    dispatcher: CollectingDispatcher, exit_: str | None, events: list[dict[str, Any]], stopped: str
) -> list[dict[str, Any]]:
    """Events for an advisor that ended before its last answer: hand over, or say it stopped."""
    if exit_ == "human":
        return [*events, FollowupAction("action_request_human")]
    dispatcher.utter_message(text=stopped)
    return events


def _cite(passages: list[Passage]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    citations = []
    for passage in passages:
        if passage.doc_id not in seen:
            seen.add(passage.doc_id)
            citations.append({"doc_id": passage.doc_id, "title": passage.doc_title, "source_url": passage.source_url})
    return citations


def _result_buttons(lang: str) -> list[dict[str, str]]:
    """Thumbs up / down and a person, under every recommendation (which is a knowledge answer too)."""
    words = ANSWER_TEXT[lang]
    return [*feedback_buttons(words), {"title": words["human"], "payload": HUMAN_PAYLOAD}]


def _remember(summary: str, citations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Slots that let a thumbs up / down on the recommendation be recorded against it."""
    return [SlotSet("last_question", summary), SlotSet("last_doc_ids", [c["doc_id"] for c in citations])]


def find_section(slug: str, lang: str, heading_contains: str = "") -> Passage | None:
    """A passage of document ``slug`` in ``lang`` whose heading contains the text (first section if "")."""
    try:
        snapshot = knowledge_base.retriever(timeout=3.0).snapshot
    except Exception:
        logger.exception("knowledge base unavailable to the advisor")
        return None
    candidates = [p for p in snapshot.passages if p.slug == slug and p.lang == lang]
    for passage in candidates:
        if heading_contains.lower() in passage.section.lower():
            return passage
    return None


# --- outbound investment ----------------------------------------------------------------------


class ValidateOdiForm(FormValidationAction):
    """Parses and checks the outbound investment advisor's answers."""

    def name(self) -> str:
        return "validate_odi_form"

    async def get_extraction_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        events = await super().get_extraction_events(dispatcher, tracker, domain)
        return [*events, *opening_case(tracker, "odi_form")]

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        return [] if tracker.get_slot("advisor_exit") else domain_slots

    def _reject(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, slot: str, key: str, **fmt: str
    ) -> dict[str, Any]:
        dispatcher.utter_message(text=ODI_TEXT[reply_language(tracker)][key].format(**fmt))
        return {slot: None}

    def _exit(self, tracker: Tracker, slot: str, text: str) -> dict[str, Any] | None:
        reason = _exit_requested(tracker, text)
        return {slot: None, "advisor_exit": reason} if reason else None

    async def validate_odi_investor_type(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "")
        investor = keywords(text, INVESTOR_TYPES)
        if investor is None:
            return self._exit(tracker, "odi_investor_type", text) or self._reject(
                dispatcher, tracker, "odi_investor_type", "investor_unclear"
            )
        return {"odi_investor_type": investor}

    async def validate_odi_destination(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "")
        country = entities.first(text, "country")
        if country is None:
            return self._exit(tracker, "odi_destination", text) or self._reject(
                dispatcher, tracker, "odi_destination", "country_unknown", text=text.strip()[:60]
            )
        return {"odi_destination": country}

    async def validate_odi_industry(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "").strip()
        industry = entities.first(text, "industry")
        if industry is None:
            exit_ = self._exit(tracker, "odi_industry", text)
            if exit_:
                return exit_
            # An industry outside the vocabulary is kept as typed; the advice then says it could
            # not match it to the sensitive-industry catalogue.
            return {"odi_industry": text[:60] or None}
        return {"odi_industry": industry}

    async def validate_odi_amount_usd(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "")
        amount = entities.parse_amount(text)
        if amount is None:
            return self._exit(tracker, "odi_amount_usd", text) or self._reject(
                dispatcher, tracker, "odi_amount_usd", "amount_unclear"
            )
        if amount.currency not in (None, "USD"):
            return self._reject(dispatcher, tracker, "odi_amount_usd", "amount_currency", currency=amount.currency)
        negative = re.search(r"(^|[^\w])-\s*\d|负", entities.normalise(text))
        if negative or amount.value <= 0 or amount.value > MAX_PLAUSIBLE_USD:
            return self._reject(dispatcher, tracker, "odi_amount_usd", "amount_absurd", text=text.strip()[:40])
        return {"odi_amount_usd": format(amount.value.normalize(), "f")}

    async def validate_odi_offshore(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "")
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if _YES.match(text) or (intent == "affirm" and not _NO.match(text)):
            return {"odi_offshore": "yes"}
        if _NO.match(text) or intent == "deny":
            return {"odi_offshore": "no"}
        return self._exit(tracker, "odi_offshore", text) or self._reject(dispatcher, tracker, "odi_offshore", "yes_no")


class ActionRecommendOdiRoute(Action):
    """Tells the trader which filings their outbound investment needs, in order, with sources."""

    def name(self) -> str:
        return "action_recommend_odi_route"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        lang = reply_language(tracker)
        events = _clear(ODI_SLOTS)
        exit_ = tracker.get_slot("advisor_exit")
        values = {slot: tracker.get_slot(slot) for slot in ODI_SLOTS}
        if exit_ or any(v is None for v in values.values()):
            return _left_early(dispatcher, exit_, events, ODI_TEXT[lang]["stopped"])
        return [*events, *recommend_odi(dispatcher, {k: str(v) for k, v in values.items()}, lang)]


def recommend_odi(
    dispatcher: CollectingDispatcher, values: dict[str, str], lang: str, *, note: str = ""
) -> list[dict[str, Any]]:
    """Send the route for a complete set of ODI answers (``ODI_SLOTS``); the slots that remember it.

    ``note`` goes under the title (what was assumed when the case came in one message).
    """
    words = ODI_TEXT[lang]
    investor, country, industry = values["odi_investor_type"], values["odi_destination"], values["odi_industry"]
    amount = Decimal(values["odi_amount_usd"])
    offshore = values["odi_offshore"] == "yes"
    lines, sources = odi_route(investor, country, industry, amount, offshore, lang)
    title = words["title"].format(
        investor=INVESTOR_NAMES[lang][investor],
        country=entities.display_name("country", country, lang),
        industry=industry_name(industry, lang),
        amount=amount_text(amount, lang),
    )
    passages = [p for slug, heading in sources if (p := find_section(slug, lang, heading)) is not None]
    parts = [title, *([note] if note else []), "\n".join(lines)]
    documents = find_section("howto-file-odi", lang, "documents" if lang == "en" else "材料")
    if documents is not None and len(lines) > 1:
        parts += [words["documents"], trim_to_sentence(documents.text, 900)]
        passages.append(documents)
    parts.append(words["confirm"])
    citations = _cite(passages)
    dispatcher.utter_message(
        text="\n\n".join(parts), buttons=_result_buttons(lang), json_message={"citations": citations}
    )
    summary = f"[ODI advisor] {investor}, {country}, {industry}, USD {amount}, offshore={values['odi_offshore']}"
    return _remember(summary, citations)


# --- customs supervision mode -----------------------------------------------------------------


class ValidateCustomsForm(FormValidationAction):
    """Parses the customs advisor's answers and asks only the questions the code depends on."""

    def name(self) -> str:
        return "validate_customs_form"

    async def get_extraction_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        events = await super().get_extraction_events(dispatcher, tracker, domain)
        return [*events, *opening_case(tracker, "customs_form")]

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        if tracker.get_slot("advisor_exit"):
            return []
        direction = tracker.get_slot("customs_direction")
        if direction == "import":
            return ["customs_direction", "customs_import_stock"]
        if direction == "export":
            if tracker.get_slot("customs_buyer") == "platform":
                return ["customs_direction", "customs_buyer", "customs_route"]
            return ["customs_direction", "customs_buyer"]
        return ["customs_direction"]

    def _parse(
        self,
        slot: str,
        table: dict[str, tuple[str, ...]],
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
    ) -> dict[str, Any]:
        text = str(value or "")
        parsed = keywords(text, table)
        if parsed is not None:
            return {slot: parsed}
        reason = _exit_requested(tracker, text)
        if reason:
            return {slot: None, "advisor_exit": reason}
        dispatcher.utter_message(text=CUSTOMS_TEXT[reply_language(tracker)]["unclear"])
        return {slot: None}

    async def validate_customs_direction(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._parse("customs_direction", DIRECTIONS, value, dispatcher, tracker)

    async def validate_customs_import_stock(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._parse("customs_import_stock", IMPORT_STOCK, value, dispatcher, tracker)

    async def validate_customs_buyer(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._parse("customs_buyer", BUYERS, value, dispatcher, tracker)

    async def validate_customs_route(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._parse("customs_route", ROUTES, value, dispatcher, tracker)


class ActionRecommendCustomsMode(Action):
    """Recommends 9610, 9710, 9810, 1210, 1039 or 0110 for the answers given, with why and what to prepare."""

    def name(self) -> str:
        return "action_recommend_customs_mode"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        lang = reply_language(tracker)
        events = _clear(CUSTOMS_SLOTS)
        exit_ = tracker.get_slot("advisor_exit")
        direction = tracker.get_slot("customs_direction")
        if exit_ or direction is None:
            return _left_early(dispatcher, exit_, events, CUSTOMS_TEXT[lang]["stopped"])
        mode = customs_mode(
            direction,
            tracker.get_slot("customs_import_stock"),
            tracker.get_slot("customs_buyer"),
            tracker.get_slot("customs_route"),
        )
        return [*events, *recommend_customs(dispatcher, mode, lang)]


def recommend_customs(dispatcher: CollectingDispatcher, mode: str, lang: str) -> list[dict[str, Any]]:
    """Send the recommendation for ``mode`` (a ``customs_mode`` result); the slots that remember it."""
    words = CUSTOMS_TEXT[lang]
    code = mode.split("-")[0]
    parts = [words["title"].format(code=code), words[f"why_{mode.replace('-', '_')}"]]
    slug, heading = CUSTOMS_SOURCES[mode]
    passage = find_section(slug, lang, heading)
    citations: list[dict[str, Any]] = []
    if passage is not None:
        parts += [words["prepare"], f"**{passage.section}**\n{trim_to_sentence(passage.text, 900)}"]
        citations = _cite([passage])
    parts.append(words["confirm"])
    dispatcher.utter_message(
        text="\n\n".join(parts), buttons=_result_buttons(lang), json_message={"citations": citations}
    )
    return _remember(f"[customs advisor] {mode}", citations)
