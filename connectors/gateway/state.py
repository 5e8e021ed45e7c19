"""What the gateway holds for its lifetime: settings, the HTTP client, and the search index.

The index loads in a worker thread after start-up, so the gateway answers ``/healthz`` (503,
"index: loading") at once instead of being unreachable for the seconds the model takes to load.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from connectors.conversation import Conversations
from connectors.rasa_client import RasaClient
from connectors.settings import GatewaySettings
from knowledge.search import HybridRetriever
from knowledge.store import Store
from records.store import Records

if TYPE_CHECKING:
    from connectors.telegram.bot import TelegramChannel

logger = logging.getLogger(__name__)


@dataclass
class GatewayState:
    settings: GatewaySettings
    http: httpx.AsyncClient
    rasa: RasaClient
    store: Store | None = None  # knowledge documents
    records: Records | None = None  # accounts, tickets, feedback, logs, preferences
    conversations: Conversations = field(init=False)
    jwt_secret: str = ""
    login_limiter: Any = None
    retriever: HybridRetriever | None = None
    index_error: str = "loading"
    # The Telegram channel, when TELEGRAM_BOT_TOKEN is set (started by the app's lifespan).
    telegram: TelegramChannel | None = None
    _loader: asyncio.Task[None] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.conversations = Conversations(self.rasa, self.records)

    @classmethod
    def create(cls, settings: GatewaySettings) -> GatewayState:
        http = httpx.AsyncClient(limits=httpx.Limits(max_connections=200, max_keepalive_connections=50))
        rasa = RasaClient(
            http=http,
            rasa_urls=settings.rasa_urls,
            action_server_url=settings.action_server_url,
            timeout=settings.rasa_timeout_seconds,
            health_timeout=settings.health_timeout_seconds,
            embed_ahead=settings.embed_ahead,
        )
        try:
            store, records = Store.open(settings), Records.open(settings)
        except Exception:
            # Preferences are a convenience: without the database, chat still works.
            logger.exception("the assistant database could not be opened")
            store, records = None, None
        from connectors.gateway.auth import LoginLimiter, bootstrap_admin, signing_secret

        secret = signing_secret(settings)  # a placeholder secret stops the gateway with a clear error
        if records is not None and (created := bootstrap_admin(records, settings)):
            logger.info("created the first staff account %r (admin)", created)
        return cls(
            settings=settings,
            http=http,
            rasa=rasa,
            store=store,
            records=records,
            jwt_secret=secret,
            login_limiter=LoginLimiter(settings.login_attempts_per_minute),
        )

    def start_loading_index(self) -> None:
        self._loader = asyncio.create_task(self._load_index())

    async def _load_index(self) -> None:
        try:
            self.retriever = await asyncio.to_thread(HybridRetriever.open, self.settings)
            self.index_error = ""
        except Exception as exc:
            logger.error("search index unavailable: %s", exc)
            self.index_error = str(exc)

    def index_status(self) -> tuple[bool, str]:
        if self.retriever is None:
            return False, self.index_error or "loading"
        return True, f"ok ({len(self.retriever.snapshot)} passages)"

    async def close(self) -> None:
        if self._loader is not None:
            self._loader.cancel()
        await self.http.aclose()
        for database in (self.store, self.records):
            if database is not None:
                database.engine.dispose()
