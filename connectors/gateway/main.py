"""The gateway application: ``uvicorn connectors.gateway.main:create_app --factory``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from connectors.gateway.errors import install_error_handlers
from connectors.gateway.routes import (
    audit,
    auth,
    chat,
    console,
    conversations,
    documents,
    feedback,
    health,
    hit_test,
    questions,
    search,
    stats,
    telegram,
    tickets,
    uploads,
    users,
    widget,
)
from connectors.gateway.state import GatewayState
from connectors.settings import GatewaySettings
from connectors.telegram import TelegramChannel


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = GatewayState.create(settings)
        app.state.gateway = state
        state.start_loading_index()
        if settings.telegram_bot_token:
            state.telegram = TelegramChannel(state.settings, state.conversations, state.records)
            await state.telegram.start()  # connects in the background; the gateway does not wait
        try:
            yield
        finally:
            if state.telegram is not None:
                await state.telegram.stop()
            await state.close()

    app = FastAPI(
        title="Zhejiang Trade Assistant",
        version="0.1.0",
        description="Public gateway: chat, knowledge search, health, the widget and the staff API.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    if settings.widget_allowed_origins:
        # Only the sites in the allowlist may call the chat API from a browser; no cookies are used.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.widget_allowed_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["content-type"],
            allow_credentials=False,
            max_age=600,
        )
    public = (health, chat, search, widget, telegram)
    staff = (auth, documents, uploads, hit_test, questions, feedback, tickets, conversations, users, audit, stats)
    for module in (*public, *staff, console):
        app.include_router(module.router)
    logging.getLogger("connectors").setLevel(logging.INFO)
    return app
