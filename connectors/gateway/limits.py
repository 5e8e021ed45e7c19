"""Request bodies are read up to a limit per router, and refused (413) while they arrive.

A body is never read into memory whole before its size is known: one 200 MB body took the gateway
from 530 to 860 MB of RSS before it answered 422. Chunked bodies declare no length, so the stream
is counted too.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.types import Message

from connectors.gateway.errors import ApiError

# Staff requests other than documents and uploads (a ticket reply of 4,000 characters is 24 KB as
# JSON \u escapes; an account; a hit-test question).
STAFF_BODY_LIMIT = 64 * 1024


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"


async def read_body(request: Request, limit: int, explain: str) -> bytes:
    """The body, or 413 ``too_large`` as soon as it is known to exceed ``limit`` bytes."""

    def too_large() -> ApiError:
        return ApiError(413, "too_large", f"the request body is larger than {_size(limit)}; {explain}")

    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large()
    return bytes(body)


def bounded_body(limit: int, explain: str) -> type[APIRoute]:
    """A route class that reads at most ``limit`` bytes of body; ``explain`` says what fits."""

    class BoundedBodyRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def bounded(request: Request) -> Response:
                body = await read_body(request, limit, explain)

                async def replay() -> Message:
                    return {"type": "http.request", "body": body, "more_body": False}

                return await handler(Request(request.scope, replay))

            return bounded

    return BoundedBodyRoute
