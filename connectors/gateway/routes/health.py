"""``GET /healthz``: 200 when Rasa, the action server and the index are all up, else 503 naming which."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from connectors.gateway.deps import StateDep
from connectors.gateway.schemas import HealthResponse

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthResponse, responses={503: {"model": HealthResponse}})
async def healthz(state: StateDep) -> JSONResponse:
    (rasa_ok, rasa), (actions_ok, actions) = await asyncio.gather(state.rasa.check_rasa(), state.rasa.check_actions())
    index_ok, index = state.index_status()
    healthy = rasa_ok and actions_ok and index_ok
    body = HealthResponse(
        status="ok" if healthy else "degraded",
        components={"rasa": rasa, "actions": actions, "index": index},
    )
    return JSONResponse(body.model_dump(), status_code=200 if healthy else 503)
