"""The Telegram channel: traders chat with the assistant in Telegram, staff answer handoffs in a group.

``TelegramChannel`` (in ``connectors.telegram.bot``: the handlers and the conversation) is what the
gateway starts and stops; ``application.py`` builds the python-telegram-bot application,
``render.py`` writes Telegram HTML, ``staff.py`` relays handoffs to and from the staff group. The
webhook route lives with the other routes in ``connectors.gateway.routes.telegram``.
"""

from __future__ import annotations

from connectors.telegram.application import build_application
from connectors.telegram.bot import TelegramChannel
from connectors.telegram.render import handoff_tickets

__all__ = ["TelegramChannel", "build_application", "handoff_tickets"]
