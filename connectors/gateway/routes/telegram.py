"""``POST /telegram/webhook``: where Telegram delivers updates when ``TELEGRAM_MODE=webhook``.

Only Telegram knows the secret it sends in ``X-Telegram-Bot-Api-Secret-Token`` (we give it with
``setWebhook``), so a request without it, or with another one, is refused (403) before its body is
read. The route only queues the update; the Telegram channel answers it in the background, so
Telegram gets its 200 at once. The route does not exist (404) unless the gateway runs Telegram in
webhook mode.
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response

from connectors.gateway.deps import StateDep
from connectors.gateway.errors import ApiError
from connectors.gateway.limits import read_body

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/telegram", tags=["telegram"])
# Telegram's updates are a few KB; read only after the secret matched.
MAX_UPDATE_BYTES = 1024 * 1024

SecretHeader = Annotated[str | None, Header(alias="X-Telegram-Bot-Api-Secret-Token")]


@router.post("/webhook", include_in_schema=False)
async def telegram_webhook(request: Request, state: StateDep, secret: SecretHeader = None) -> Response:
    channel = state.telegram
    if channel is None or not channel.webhook_mode:
        raise ApiError(404, "not_found", "Telegram is not set up in webhook mode on this gateway")
    expected = state.settings.telegram_webhook_secret.encode()
    if secret is None or not secrets.compare_digest(secret.encode(), expected):
        raise ApiError(403, "forbidden", "missing or wrong X-Telegram-Bot-Api-Secret-Token")
    body = await read_body(request, MAX_UPDATE_BYTES, "a Telegram update is a few KB")
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ApiError(400, "invalid_json", "the request body is not valid JSON (UTF-8 encoded)") from exc
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        raise ApiError(400, "invalid_update", "the request body is not a Telegram update")
    try:
        accepted = await channel.accept_webhook_update(data)
    except Exception as exc:  # a malformed update; Telegram would resend it forever on a 5xx
        logger.warning("could not read a telegram update: %s", exc)
        raise ApiError(400, "invalid_update", "the request body is not a Telegram update") from exc
    if not accepted:
        # Still connecting to Telegram: Telegram keeps the update and delivers it again.
        raise ApiError(503, "telegram_starting", "the Telegram channel is starting", headers={"Retry-After": "5"})
    return Response(status_code=200)
