"""A second Rasa on the benchmark stack's model with its HTTP API on: NLU-only and action-only timings."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from bench.client import Samples, Session, timed_post
from knowledge.settings import configured
from scripts.devstack import APP_PYTHON, REPO, LocalStack, StackError, free_port
from scripts.stack import RASA_RUN  # Rasa as the stack starts it (assistant/rasa_runtime.py)

CONVERSATION_MESSAGES = 10  # the execute timings use a new conversation every this many actions


class ProbeRasa:
    """A second Rasa on the same model with its HTTP API on, against the stack's action server.

    The stack's own Rasa runs without ``--enable-api`` (its API could rewrite any conversation), so
    the parse and execute endpoints are measured here, on a separate tracker database, with a random
    token; it is stopped before the report.
    """

    def __init__(self, stack: LocalStack, data_dir: Path) -> None:
        self.port = free_port()
        self.token = secrets.token_urlsafe(24)
        self.url = f"http://127.0.0.1:{self.port}"
        model = subprocess.run(
            [str(APP_PYTHON), str(REPO / "scripts" / "stack.py"), "model-path"],
            env=stack.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        env = {
            **stack.env,
            "PYTHONPATH": os.pathsep.join([str(REPO / "assistant"), str(REPO)]),
            "ACTION_ENDPOINT_URL": f"{stack.actions_url}/webhook",
            "RASA_TRACKER_DB": str(data_dir / "probe-conversations.sqlite"),
            "TRACKER_WINDOW_TURNS": str(stack.env.get("TRACKER_WINDOW_TURNS") or configured("tracker_window_turns")()),
            "PYTHONUNBUFFERED": "1",
        }
        self.log = data_dir / "logs" / "probe-rasa.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as handle:
            self.process = subprocess.Popen(
                [
                    *RASA_RUN,
                    "--enable-api",
                    "--auth-token",
                    self.token,
                    "--model",
                    model,
                    "--endpoints",
                    str(REPO / "assistant" / "endpoints.yml"),
                    "--interface",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                cwd=data_dir,
                env=env,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    async def wait_ready(self, client: httpx.AsyncClient, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StackError(f"the probe Rasa exited with {self.process.returncode}; see {self.log}")
            with contextlib.suppress(httpx.HTTPError):
                response = await client.get(f"{self.url}/status", params={"token": self.token})
                if response.status_code == 200 and response.json().get("model_id"):
                    return
            await asyncio.sleep(0.5)
        raise StackError(f"the probe Rasa was not ready after {timeout:.0f}s; see {self.log}")

    async def parse(self, client: httpx.AsyncClient, questions: Sequence[dict[str, str]], rounds: int) -> Samples:
        samples = Samples()
        for _ in range(rounds):
            for question in questions:
                samples.add(
                    await timed_post(
                        client, f"{self.url}/model/parse", params={"token": self.token}, json={"text": question["q"]}
                    )
                )
        return samples

    async def execute(self, client: httpx.AsyncClient, action: str, count: int) -> Samples:
        """``count`` timed executes of ``action``; a new conversation (created untimed) every few."""
        samples, session = Samples(), Session(rotate_after=CONVERSATION_MESSAGES)
        params = {"token": self.token, "include_events": "NONE"}
        for _ in range(count):
            fresh = session.sent in (0, CONVERSATION_MESSAGES)
            conversation = f"{self.url}/conversations/bench-{session.next_id()}"
            if fresh:  # the execute endpoint needs an existing conversation
                language = {"event": "slot", "name": "language", "value": "en"}
                await client.post(f"{conversation}/tracker/events", params=params, json=language)
            samples.add(await timed_post(client, f"{conversation}/execute", params=params, json={"name": action}))
        return samples

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, 15)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(10)
