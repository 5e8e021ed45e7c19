"""The gateway application: ``uvicorn connectors.gateway.main:create_app --factory``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from connectors.gateway.errors import install_error_handlers
from connectors.gateway.routes import chat, health, search
from connectors.gateway.state import GatewayState
from connectors.settings import GatewaySettings


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = GatewayState.create(settings)
        app.state.gateway = state
        state.start_loading_index()
        try:
            yield
        finally:
            await state.close()

    app = FastAPI(
        title="Zhejiang Trade Assistant",
        version="0.1.0",
        description="Public gateway: chat, knowledge search and health.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    for module in (health, chat, search):
        app.include_router(module.router)
    logging.getLogger("connectors").setLevel(logging.INFO)
    return app
