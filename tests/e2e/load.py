"""Sustained open-loop chat load, shared by the e2e tests that run it (20 messages/s for 60 s).

On the default profile one Rasa process tops out at about 20 messages/s on 2 cores (``make bench``:
closed loop 19.4-19.9 msg/s), exactly the offered rate, so queues there grow and some replies miss the
gateway's Rasa timeout; the scale profile's two replicas carry it (``tests/e2e/test_scale.py``).
"""

from __future__ import annotations

import asyncio
import time

import httpx

LOAD_SESSIONS = 50
LOAD_SECONDS = 60
LOAD_INTERVAL_S = 2.5  # each session sends every 2.5 s: 50 / 2.5 = 20 messages/s offered
LOAD_MESSAGES = [
    "hello",
    "What is customs code 9610 for?",
    "义乌市场采购贸易方式是什么？",
    "How do I file an outbound investment with the NDRC?",
    "宁波舟山港有哪些保税区？",
    "thanks",
]


def load_session_id(number: int) -> str:
    return f"load-{number:02d}-" + "x" * 20


def run_open_loop_load(url: str) -> list[tuple[str, int, int, str]]:
    """Open-loop load on the gateway at ``url``: (session id, status, replies, message) per message.

    Sends keep their schedule whatever the replies do, as traders on a busy fair day would.
    """

    async def run() -> list[tuple[str, int, int, str]]:
        limits = httpx.Limits(max_connections=LOAD_SESSIONS + 10)
        async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
            started = time.monotonic()

            async def session(number: int) -> list[tuple[str, int, int, str]]:
                session_id = load_session_id(number)
                results = []
                for turn in range(int(LOAD_SECONDS / LOAD_INTERVAL_S)):
                    due = started + number * LOAD_INTERVAL_S / LOAD_SESSIONS + turn * LOAD_INTERVAL_S
                    await asyncio.sleep(max(0.0, due - time.monotonic()))
                    message = LOAD_MESSAGES[(number + turn) % len(LOAD_MESSAGES)]
                    try:
                        response = await client.post(
                            "/api/v1/chat", json={"message": message, "session_id": session_id}
                        )
                        replies = len(response.json().get("messages", [])) if response.status_code == 200 else 0
                        results.append((session_id, response.status_code, replies, message))
                    except httpx.HTTPError as exc:
                        results.append((session_id, 0, 0, f"{message}: {exc!r}"))
                return results

            batches = await asyncio.gather(*(session(n) for n in range(LOAD_SESSIONS)))
            return [result for batch in batches for result in batch]

    results = asyncio.run(run())
    assert len(results) == LOAD_SESSIONS * int(LOAD_SECONDS / LOAD_INTERVAL_S)
    failed = [r for r in results if r[1] != 200 or r[2] == 0]
    assert not failed, f"{len(failed)} of {len(results)} messages failed, e.g. {failed[:5]}"
    return results
