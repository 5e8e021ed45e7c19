"""Run the rasa-sdk action server as one process: ``python -m actions.server --port 5055``.

rasa-sdk's own launcher (``python -m rasa_sdk``) hands the app to Sanic's worker manager, which
spawns a worker that imports the actions again: the knowledge index (and the embedding model) would
load twice, and a crash of the manager would leave an orphan worker holding the port. Here the
index loads first, in this process, and only then does the server start listening on loopback, so
"reachable" means "can answer".

It also serves ``POST /embed-ahead {"text": ...}``: the gateway sends each typed message here at the
same time as it sends it to Rasa, so the query embedding runs on the core Rasa's NLU leaves idle,
and the answer action's search finds the vector ready (``Embedder.encode_ahead``). Best effort:
only while no action runs and no other text is being embedded ahead; anything else is dropped,
never queued behind real searches.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any

from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor
from sanic import Request, Sanic, response
from sanic.response import HTTPResponse

from actions import knowledge_base
from knowledge.settings import KnowledgeSettings

logger = logging.getLogger(__name__)
MAX_AHEAD = 1


def add_embed_ahead(app: Sanic[Any, Any], max_chars: int) -> None:
    """``POST /embed-ahead``: 202 when the text will be embedded, 4xx/503 with a reason otherwise."""
    pending: set[asyncio.Future[None]] = set()
    actions_running = 0

    @app.on_request
    async def action_started(request: Request) -> None:
        nonlocal actions_running
        if request.path == "/webhook":
            actions_running += 1

    @app.on_response
    async def action_finished(request: Request, _: HTTPResponse) -> None:
        nonlocal actions_running
        if request.path == "/webhook":
            actions_running -= 1

    def finished(job: asyncio.Future[None]) -> None:
        pending.discard(job)
        if not job.cancelled() and job.exception() is not None:
            logger.warning("embed-ahead failed: %s", job.exception())

    @app.post("/embed-ahead")
    async def embed_ahead(request: Request) -> HTTPResponse:
        try:
            body = request.json
        except Exception:  # sanic raises on malformed JSON
            body = None
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip() or len(text) > max_chars:
            return response.json({"error": f"send {{'text': a string of 1 to {max_chars} characters}}"}, status=400)
        if len(pending) >= MAX_AHEAD or actions_running:
            # Only an idle action server has a core to spare: otherwise this would slow real answers.
            return response.json({"accepted": False, "reason": "busy"}, status=503)
        try:
            embedder = knowledge_base.retriever(timeout=0).embedder
        except RuntimeError as exc:
            return response.json({"accepted": False, "reason": str(exc)}, status=503)
        job = asyncio.get_running_loop().run_in_executor(None, embedder.encode_ahead, text)
        pending.add(job)
        job.add_done_callback(finished)
        return response.json({"accepted": True}, status=202)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5055)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s - %(message)s")

    knowledge_base.retriever(timeout=600)  # load now; raises (and exits non-zero) if it cannot
    executor = ActionExecutor()
    executor.register_package("actions")
    app = create_app(executor, cors_origins=None)
    add_embed_ahead(app, KnowledgeSettings().max_query_chars)
    app.run(host=args.host, port=args.port, single_process=True, access_log=False, motd=False)


if __name__ == "__main__":
    main()
