"""Talking to Rasa's REST channel and the action server, with short timeouts.

Rasa's REST channel returns a list of bot messages; text, buttons and custom payloads arrive as
separate entries. ``to_chat_messages`` folds them into the gateway's fixed message shape, attaching a
``{"citations": [...]}`` custom payload to the text it belongs to (the one before it).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from dataclasses import dataclass, field
from typing import Any

import httpx

# Embedding ahead pays off only while a core is idle, which is while this message is the only
# one in flight. Under load the cores are busy, replies wait in Rasa's queue anyway, and the extra
# work made replies slower: with up to 2 in flight the 50-session p50 was 178-224 ms against
# 151 ms without it (README, "Measured").
EMBED_AHEAD_WHILE_IN_FLIGHT = 1


class EngineUnavailable(Exception):
    """Rasa (or the action server behind it) could not produce a reply."""

    def __init__(self, component: str, detail: str) -> None:
        super().__init__(f"{component}: {detail}")
        self.component, self.detail = component, detail


@dataclass
class RasaClient:
    """Rasa's REST channel on one replica or several (round robin; a refused connection tries the next).

    Only a refused connection is retried on another replica: the message never reached Rasa. A
    timeout is not, since that replica may still be processing it (the lock store would make a second
    copy wait, then run it twice).
    """

    http: httpx.AsyncClient
    rasa_urls: list[str]
    action_server_url: str
    timeout: float
    health_timeout: float
    # Ask the action server to embed a typed message while Rasa parses it (actions/server.py).
    embed_ahead: bool = False
    _turn: itertools.count[int] = field(default_factory=itertools.count, repr=False)
    _ahead: set[asyncio.Task[None]] = field(default_factory=set, repr=False)
    _in_flight: int = field(default=0, repr=False)

    async def send(self, sender: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        self._in_flight += 1
        try:
            if (
                self.embed_ahead
                and self._in_flight <= EMBED_AHEAD_WHILE_IN_FLIGHT
                and text.strip()
                and not text.startswith("/")  # "/intent": a button or a command, nothing to search
            ):
                task = asyncio.create_task(self._embed_ahead(text))
                self._ahead.add(task)
                task.add_done_callback(self._ahead.discard)
            return await self._send(sender, text, metadata)
        finally:
            self._in_flight -= 1

    async def _send(self, sender: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        first = next(self._turn) % len(self.rasa_urls)
        for attempt in range(len(self.rasa_urls)):
            url = self.rasa_urls[(first + attempt) % len(self.rasa_urls)]
            try:
                response = await self.http.post(
                    f"{url}/webhooks/rest/webhook",
                    json={"sender": sender, "message": text, "metadata": metadata},
                    timeout=self.timeout,
                )
                break
            except httpx.ConnectError as exc:
                if attempt + 1 == len(self.rasa_urls):
                    raise EngineUnavailable("rasa", "is not reachable") from exc
            except httpx.TimeoutException as exc:
                raise EngineUnavailable("rasa", "did not answer in time") from exc
            except httpx.HTTPError as exc:
                raise EngineUnavailable("rasa", "is not reachable") from exc
        if response.status_code != 200:
            raise EngineUnavailable("rasa", f"answered HTTP {response.status_code}")
        try:
            payload = response.json()
        except ValueError as exc:
            raise EngineUnavailable("rasa", "answered something that is not JSON") from exc
        if not isinstance(payload, list):
            raise EngineUnavailable("rasa", "answered an unexpected shape")
        return [m for m in payload if isinstance(m, dict)]

    async def _embed_ahead(self, text: str) -> None:
        """Best effort: the answer is the same without it, only a few milliseconds later."""
        with contextlib.suppress(httpx.HTTPError):
            await self.http.post(f"{self.action_server_url}/embed-ahead", json={"text": text}, timeout=1.0)

    async def check_rasa(self) -> tuple[bool, str]:
        """Up when at least one replica answers (the others' state is in the detail)."""
        results = await asyncio.gather(
            *(self._check(f"{url}/", lambda r: r.status_code == 200 and "Rasa" in r.text) for url in self.rasa_urls)
        )
        if len(results) == 1:
            return results[0]
        up = sum(1 for ok, _ in results if ok)
        detail = "ok" if up == len(results) else f"{up} of {len(results)} replicas up"
        return up > 0, detail

    async def check_actions(self) -> tuple[bool, str]:
        return await self._check(f"{self.action_server_url}/health", lambda r: r.status_code == 200)

    async def _check(self, url: str, healthy: Any) -> tuple[bool, str]:
        try:
            response = await self.http.get(url, timeout=self.health_timeout)
        except httpx.HTTPError:
            return False, "unreachable"
        return (True, "ok") if healthy(response) else (False, f"HTTP {response.status_code}")


def to_chat_messages(rasa_messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rasa REST output -> ``[{"text", "buttons", "citations"}]`` (citations merged into their text)."""
    messages: list[dict[str, Any]] = []
    for item in rasa_messages:
        custom = item.get("custom")
        citations = custom.get("citations") if isinstance(custom, dict) else None
        text = item.get("text")
        if text is None and citations is not None and messages:
            messages[-1]["citations"].extend(_clean_citations(citations))
            continue
        if text is None and not item.get("buttons") and citations is None:
            continue  # images, attachments and other payloads this channel does not render
        messages.append(
            {
                "text": str(text or ""),
                "buttons": [
                    {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
                    for b in item.get("buttons") or []
                    if isinstance(b, dict)
                ],
                "citations": _clean_citations(citations or []),
            }
        )
    return messages


def language_choice(rasa_messages: list[dict[str, Any]]) -> str | None:
    """The language an ``action_switch_language`` reply asks the channel to keep, if any."""
    for item in rasa_messages:
        custom = item.get("custom")
        if isinstance(custom, dict) and custom.get("set_language") in ("en", "zh"):
            return str(custom["set_language"])
    return None


def _clean_citations(citations: Any) -> list[dict[str, Any]]:
    if not isinstance(citations, list):
        return []
    return [
        {
            "doc_id": str(c.get("doc_id", "")),
            "title": str(c.get("title", "")),
            "source_url": str(c["source_url"]) if c.get("source_url") else None,
        }
        for c in citations
        if isinstance(c, dict) and c.get("doc_id")
    ]
