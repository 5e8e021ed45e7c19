"""The Telegram channel: traders chat with the assistant in Telegram, staff answer handoffs in a group.

``TelegramChannel`` (in ``connectors.telegram.bot``) is what the gateway starts and stops; the webhook
route lives with the other routes in ``connectors.gateway.routes.telegram``.
"""

from __future__ import annotations

from connectors.telegram.bot import TelegramChannel, build_application
from connectors.telegram.render import handoff_tickets

__all__ = ["TelegramChannel", "build_application", "handoff_tickets"]
