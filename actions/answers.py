"""``action_answer_question``: answer a business question from the knowledge base, with its source.

The reply is the best passage (trimmed at a sentence boundary), a line naming the source and its
date, citations in the channel-neutral ``citations`` payload, and buttons for related documents.
When search does not clear its confidence bar the reply says so plainly and offers the nearest
topics instead of guessing: the assistant never stitches an answer together.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import knowledge_base
from knowledge.errors import KnowledgeError
from knowledge.language import detect_language
from knowledge.search import Hit, SearchResult

logger = logging.getLogger(__name__)

MAX_ANSWER_CHARS = 700
MAX_RELATED = 3
_SENTENCE_END = re.compile(r"(?<=[。！？!?])|(?<=[.;])\s")

TEXT = {
    "en": {
        "source": "Source: {title}{date}. Last reviewed {reviewed}.",
        "dated": ", dated {date}",
        "uncertain": "Note: part of this rests on a single or unofficial source; confirm with the office named before you act on it.",
        "not_found": 'I could not find this in the knowledge base, so I would rather not guess. Try naming the procedure, place or customs code (for example "9810 overseas warehouse" or "ODI filing Zhejiang").',
        "nearest": "These topics are the closest I have:",
        "unavailable": "utter_answer_unavailable",
    },
    "zh": {
        "source": "来源：{title}{date}。最近审核：{reviewed}。",
        "dated": "，日期 {date}",
        "uncertain": "提示：其中部分内容仅有单一或非官方来源，办理前请向文中提到的主管部门核实。",
        "not_found": "知识库里没有找到这个问题的答案，我不想随便猜测。可以试着写明具体业务、地点或监管方式代码（例如“9810 海外仓”或“浙江 境外投资备案”）。",
        "nearest": "最接近的相关主题：",
        "unavailable": "utter_answer_unavailable",
    },
}


def trim_to_sentence(text: str, limit: int = MAX_ANSWER_CHARS) -> str:
    """Cut ``text`` at the last sentence end before ``limit`` characters (never mid-sentence)."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = [m.start() for m in _SENTENCE_END.finditer(text, 0, limit) if m.start() > limit // 3]
    end = cut[-1] if cut else limit
    return text[:end].rstrip() + ("" if cut else "…")


def _reply_language(tracker: Tracker) -> str:
    slot = tracker.get_slot("language")
    if slot in TEXT:
        return str(slot)
    return detect_language(tracker.latest_message.get("text") or "") or "en"


def _related_buttons(result: SearchResult, exclude_slug: str | None) -> list[dict[str, str]]:
    buttons: list[dict[str, str]] = []
    seen = {exclude_slug}
    for hit in result.hits:
        passage = hit.passage
        if passage.slug in seen or passage.lang != result.lang:
            continue
        seen.add(passage.slug)
        buttons.append({"title": passage.doc_title, "payload": passage.doc_title})
        if len(buttons) == MAX_RELATED:
            break
    return buttons


def _citation(hit: Hit) -> dict[str, Any]:
    passage = hit.passage
    return {"doc_id": passage.doc_id, "title": passage.doc_title, "source_url": passage.source_url}


def compose_answer(result: SearchResult, lang: str) -> dict[str, Any]:
    """The message to send for a search result: text, buttons and the ``citations`` payload."""
    words = TEXT[lang]
    if not result.answered or not result.hits:
        buttons = _related_buttons(result, None)
        text = words["not_found"] + (f"\n\n{words['nearest']}" if buttons else "")
        return {"text": text, "buttons": buttons, "json_message": {"citations": []}}
    top = result.hits[0]
    passage = top.passage
    date = words["dated"].format(date=passage.source_date.isoformat()) if passage.source_date else ""
    parts = [
        f"**{passage.doc_title}** — {passage.section}",
        trim_to_sentence(passage.text),
        words["source"].format(title=passage.source_title, date=date, reviewed=passage.last_reviewed.isoformat()),
    ]
    if passage.confidence != "high":
        parts.append(words["uncertain"])
    return {
        "text": "\n\n".join(parts),
        "buttons": _related_buttons(result, passage.slug),
        "json_message": {"citations": [_citation(top)]},
    }


class ActionAnswerQuestion(Action):
    """Searches the knowledge base for the trader's question and replies with a cited passage."""

    def name(self) -> str:
        return "action_answer_question"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        lang = _reply_language(tracker)
        question = tracker.latest_message.get("text") or ""
        try:
            result = knowledge_base.retriever(timeout=3.0).search(question, k=8, lang=lang)
        except KnowledgeError as exc:
            logger.warning("search refused %r: %s", question[:80], exc)
            dispatcher.utter_message(text=TEXT[lang]["not_found"], json_message={"citations": []})
            return []
        except Exception:
            logger.exception("knowledge search failed")
            dispatcher.utter_message(response=TEXT[lang]["unavailable"])
            return []
        dispatcher.utter_message(**compose_answer(result, lang))
        return []
