"""The benchmark's client side: timed chat requests, sessions, and the load shapes ``bench.chat`` runs.

Every loop is bounded by a count or a deadline; every request goes to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.measure import percentiles

GREETING = "hello"
LONG_CONVERSATION_BUCKETS = ((1, 10), (41, 50), (91, 100), (191, 200))


@dataclass
class Sample:
    ms: float
    ok: bool
    error: str = ""


@dataclass
class Samples:
    items: list[Sample] = field(default_factory=list)

    def add(self, sample: Sample) -> None:
        self.items.append(sample)

    def summary(self) -> dict[str, Any]:
        errors: dict[str, int] = {}
        for sample in self.items:
            if not sample.ok:
                errors[sample.error] = errors.get(sample.error, 0) + 1
        return {
            "latency_ms": percentiles([s.ms for s in self.items if s.ok]),
            "messages": len(self.items),
            "errors": sum(errors.values()),
            "error_kinds": errors,
        }


# --- the client --------------------------------------------------------------------------------


class Session:
    """One simulated trader: a session id, kept for the whole phase as a trader keeps a chat open, or
    replaced every ``rotate_after`` messages."""

    def __init__(self, rotate_after: int | None = None) -> None:
        self.session_id = secrets.token_urlsafe(18)
        self.sent = 0
        self.rotate_after = rotate_after

    def next_id(self) -> str:
        if self.rotate_after is not None and self.sent >= self.rotate_after:
            self.session_id, self.sent = secrets.token_urlsafe(18), 0
        self.sent += 1
        return self.session_id


async def chat(client: httpx.AsyncClient, message: str, session: Session) -> Sample:
    """One ``POST /api/v1/chat``; ok when it is a 200 with at least one message."""
    started = time.perf_counter()
    try:
        response = await client.post("/api/v1/chat", json={"message": message, "session_id": session.next_id()})
    except httpx.TimeoutException:
        return Sample((time.perf_counter() - started) * 1000, False, "timeout")
    except httpx.HTTPError as exc:
        return Sample((time.perf_counter() - started) * 1000, False, type(exc).__name__)
    ms = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        code = ""
        with contextlib.suppress(ValueError, KeyError, TypeError):
            code = " " + str(response.json()["error"]["code"])
        return Sample(ms, False, f"HTTP {response.status_code}{code}")
    if not response.json().get("messages"):
        return Sample(ms, False, "empty reply")
    return Sample(ms, True)


async def timed_post(client: httpx.AsyncClient, url: str, **kwargs: Any) -> Sample:
    started = time.perf_counter()
    try:
        response = await client.post(url, **kwargs)
    except httpx.HTTPError as exc:
        return Sample((time.perf_counter() - started) * 1000, False, type(exc).__name__)
    ms = (time.perf_counter() - started) * 1000
    return Sample(
        ms, response.status_code == 200, "" if response.status_code == 200 else f"HTTP {response.status_code}"
    )


async def sequential_chat(client: httpx.AsyncClient, messages: Sequence[str]) -> Samples:
    samples, session = Samples(), Session()
    for message in messages:
        samples.add(await chat(client, message, session))
    return samples


async def bare_rasa_greetings(client: httpx.AsyncClient, rasa_url: str, count: int) -> Samples:
    """The greeting straight to Rasa's REST channel: no gateway, no action server."""
    samples, session = Samples(), Session()
    for _ in range(count):
        body = {"sender": f"bench:{session.next_id()}", "message": GREETING, "metadata": {"channel": "web"}}
        samples.add(await timed_post(client, f"{rasa_url}/webhooks/rest/webhook", json=body))
    return samples


async def searches(client: httpx.AsyncClient, questions: Sequence[dict[str, str]], rounds: int) -> Samples:
    samples = Samples()
    for _ in range(rounds):
        for question in questions:
            started = time.perf_counter()
            try:
                response = await client.get("/api/v1/search", params={"q": question["q"], "lang": question["lang"]})
                ok, error = response.status_code == 200, f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                ok, error = False, type(exc).__name__
            samples.add(Sample((time.perf_counter() - started) * 1000, ok, "" if ok else error))
    return samples


async def concurrent_sessions(
    client: httpx.AsyncClient, questions: Sequence[str], sessions: int, think_s: float, duration_s: float, seed: int
) -> dict[str, Any]:
    """``sessions`` traders, each sending the next question ``think_s`` after its reply, for ``duration_s``.

    With no think time this is the closed loop: every session sends again as soon as it has its reply.
    Start times are spread over one think time (or 0.5 s), so the sessions do not all arrive at once.
    """
    samples = Samples()
    rng = random.Random(seed)
    started = time.perf_counter()
    deadline = started + duration_s
    finished_at: list[float] = []
    turns_per_session: list[int] = []

    async def trader(offset: int, delay: float) -> None:
        await asyncio.sleep(delay)
        session, turn = Session(), offset
        while time.perf_counter() < deadline:
            samples.add(await chat(client, questions[turn % len(questions)], session))
            finished_at.append(time.perf_counter())
            turn += 1
            if think_s:
                await asyncio.sleep(min(think_s, max(0.0, deadline - time.perf_counter())))
        turns_per_session.append(session.sent)

    spread = think_s or 0.5
    await asyncio.gather(*(trader(i * 7, rng.uniform(0, spread)) for i in range(sessions)))
    elapsed = time.perf_counter() - started
    in_window = [t for t in finished_at if t <= deadline]
    result = samples.summary()
    result.update(
        sessions=sessions,
        think_time_s=think_s,
        duration_s=round(duration_s, 1),
        elapsed_s=round(elapsed, 1),
        turns_per_session_min=min(turns_per_session, default=0),
        # Replies completed within the window, per second of the window.
        throughput_msg_s=round(len(in_window) / duration_s, 2),
        ok_throughput_msg_s=round(sum(1 for s in samples.items if s.ok) / elapsed, 2),
    )
    return result


async def long_conversation(client: httpx.AsyncClient, questions: Sequence[str], turns: int) -> dict[str, Any]:
    """One session asking ``questions`` in turn, back to back, for ``turns`` messages: the latency of
    each turn bucket (turns 1-10, 41-50, 91-100, 191-200 that fit), and of a fresh session asking the
    same questions. Every bucket sees the same questions (the cycle is 10 long), so only the length
    of the history differs between them."""
    cycle = list(questions[:10])
    session, per_turn = Session(), []
    for turn in range(turns):
        per_turn.append(await chat(client, cycle[turn % len(cycle)], session))
    buckets: dict[str, Any] = {}
    for first, last in LONG_CONVERSATION_BUCKETS:
        if last <= turns:
            bucket = Samples(per_turn[first - 1 : last])
            buckets[f"turns_{first}_{last}"] = bucket.summary()
    fresh = await sequential_chat(client, cycle)
    everything = Samples(per_turn).summary()
    return {**everything, "turns": turns, "buckets": buckets, "fresh_session": fresh.summary()}
