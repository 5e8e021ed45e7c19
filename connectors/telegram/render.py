"""Telegram's side of rendering: bot text as Telegram HTML, split under its length limit, citations
as links, handoff tickets as staff-chat posts. No network here (``connectors.telegram.bot`` sends).

Must not: put bot, staff or user text into HTML unescaped.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from telegram.constants import MessageLimit

if TYPE_CHECKING:
    from records.models import HandoffTicket

MESSAGE_LIMIT: Final = int(MessageLimit.MAX_TEXT_LENGTH)  # 4096
TRANSCRIPT_TURNS: Final = 20
MAX_TURN_CHARS: Final = 1500

TEXT: Final[dict[str, dict[str, str]]] = {
    "en": {
        "unavailable": "Sorry, the assistant is not available right now. Please try again in a minute.",
        "sources": "Sources:",
        "choose": "Please choose:",
        "staff": "Staff:",
    },
    "zh": {
        "unavailable": "抱歉，助手暂时无法回答。请一分钟后再试。",
        "sources": "来源：",
        "choose": "请选择：",
        "staff": "工作人员：",
    },
}
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")


def telegram_length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units: an emoji can count twice)."""
    return len(text.encode("utf-16-le")) // 2


def render_line(raw: str) -> str:
    """One line of bot text as Telegram HTML: escaped, then ``**bold**`` turned into ``<b>``."""
    return _BOLD.sub(r"<b>\1</b>", html.escape(raw, quote=False))


def render_plain(raw: str) -> str:
    """Text shown as typed (staff replies, transcripts): escaped, no Markdown."""
    return html.escape(raw, quote=False)


def _split_raw_line(raw: str, limit: int, render: Callable[[str], str]) -> list[str]:
    """A line whose HTML is too long for one message, cut (at a space when possible) into lines that fit."""
    pieces: list[str] = []
    while raw:
        if telegram_length(render(raw)) <= limit:
            pieces.append(raw)
            break
        # Escaping only lengthens text, so the cut starts at most ``limit`` characters in.
        cut = min(len(raw), limit)
        while cut > 1 and telegram_length(render(raw[:cut])) > limit:
            cut = max(1, cut - max(1, cut // 10))
        space = raw.rfind(" ", cut // 2, cut)
        if space > 0:
            cut = space + 1
        pieces.append(raw[:cut].rstrip())
        raw = raw[cut:]
    return pieces


def render_lines(text: str, limit: int = MESSAGE_LIMIT, *, markdown: bool = True) -> list[str]:
    """``text`` as HTML lines, each at most ``limit`` long; each line's tags are balanced."""
    render = render_line if markdown else render_plain
    lines: list[str] = []
    for raw in text.split("\n"):
        lines.extend(render(piece) for piece in _split_raw_line(raw, limit, render) or [""])
    return lines


def pack_lines(lines: Iterable[str], limit: int = MESSAGE_LIMIT) -> list[str]:
    """HTML lines joined into as few messages as possible, each at most ``limit`` long, none empty."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        length = telegram_length(line)
        if current and size + 1 + length > limit:
            chunks.append("\n".join(current))
            current, size = [], 0
        size = length if not current else size + 1 + length
        current.append(line)
    if current:
        chunks.append("\n".join(current))
    return [chunk.strip("\n") for chunk in chunks if chunk.strip()]


def is_web_link(url: str | None) -> bool:
    """True for an absolute http(s) URL: the only links we render."""
    if not url:
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def citation_lines(citations: Sequence[dict[str, Any]], lang: str) -> list[str]:
    """The "Sources" block: a link per citation with an http(s) URL, the plain title otherwise."""
    lines: list[str] = []
    for citation in citations:
        title = html.escape(str(citation.get("title") or citation.get("doc_id") or "")[:300], quote=False)
        url = citation.get("source_url")
        if is_web_link(url):
            lines.append(f'• <a href="{html.escape(str(url), quote=True)}">{title}</a>')
        elif title:
            lines.append(f"• {title}")
    return [f"<b>{TEXT[lang]['sources']}</b>", *lines] if lines else []


def render_reply(message: dict[str, Any], lang: str) -> list[str]:
    """One gateway chat message (text + citations) as Telegram HTML messages under the size limit."""
    lines = render_lines(str(message.get("text") or "").strip())
    sources = citation_lines(message.get("citations") or [], lang)
    if sources:
        lines += ["", *sources]
    chunks = pack_lines(lines)
    if not chunks and message.get("buttons"):
        chunks = [html.escape(TEXT[lang]["choose"], quote=False)]
    return chunks


def handoff_tickets(replies: Sequence[dict[str, Any]]) -> list[int]:
    """The ticket ids in ``{"handoff_ticket": id}`` custom payloads of a Rasa reply, in order."""
    tickets: list[int] = []
    for item in replies:
        custom = item.get("custom")
        ticket = custom.get("handoff_ticket") if isinstance(custom, dict) else None
        if isinstance(ticket, int) and not isinstance(ticket, bool) and ticket not in tickets:
            tickets.append(ticket)
    return tickets


def ticket_posts(ticket: HandoffTicket, limit: int = MESSAGE_LIMIT) -> list[str]:
    """A handoff ticket as staff-chat messages: header, question, the last turns, how to answer."""
    header = (
        f"🙋 <b>Handoff ticket #{ticket.id}</b> · 工单 #{ticket.id}\n"
        f"Channel: {html.escape(ticket.channel, quote=False)} · Language: {html.escape(ticket.lang, quote=False)}"
        f" · Conversation: <code>{html.escape(ticket.sender_id, quote=False)}</code>"
    )
    continued = f"🙋 <b>Handoff ticket #{ticket.id}</b> (continued · 续)"
    room = limit - max(telegram_length(header), telegram_length(continued)) - 1
    body = [f"<b>Question · 问题:</b> {html.escape(ticket.question, quote=False) or '—'}", ""]
    turns = [t for t in ticket.transcript or [] if isinstance(t, dict) and t.get("text")][-TRANSCRIPT_TURNS:]
    if turns:
        body.append(f"<b>Last {len(turns)} turns · 最近对话:</b>")
    for turn in turns:
        who = "Trader · 用户" if turn.get("role") == "user" else "Bot · 助手"
        text = str(turn["text"])
        if len(text) > MAX_TURN_CHARS:
            text = text[:MAX_TURN_CHARS] + "…"
        prefix = f"<b>{who}:</b> "
        fitted = render_lines(text, room - telegram_length(prefix), markdown=False)
        body.append(prefix + fitted[0])
        body.extend(fitted[1:])
    body += ["", "<i>Reply to this message to answer the trader. · 回复此消息即可答复用户。</i>"]
    parts = pack_lines(body, room)
    return [f"{header if i == 0 else continued}\n{part}" for i, part in enumerate(parts)]
