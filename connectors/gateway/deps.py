"""Dependency aliases for the routes (``StateDep`` gives a route the gateway's state)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from connectors.gateway.state import GatewayState


def get_state(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state


StateDep = Annotated[GatewayState, Depends(get_state)]
