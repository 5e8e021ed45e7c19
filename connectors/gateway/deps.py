"""Dependency aliases for the routes: the gateway's state, its two stores, and the signed-in staff member.

``Viewer``, ``Editor`` and ``Admin`` are the only way a route asks for a role: each answers 401
without a valid token (header or console cookie) and 403 for a lower role (``auth.RANK``).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request

from connectors.gateway.auth import CSRF_HEADER, RANK, SAFE_METHODS, SESSION_COOKIE, csrf_token, decode_session, oauth2
from connectors.gateway.errors import ApiError
from connectors.gateway.state import GatewayState
from knowledge.store import Store
from records.models import StaffUser
from records.store import Records


def get_state(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state


StateDep = Annotated[GatewayState, Depends(get_state)]


def get_store(state: StateDep) -> Store:
    if state.store is None:
        raise ApiError(503, "store_unavailable", "The knowledge store is not available; see the gateway log.")
    return state.store


def get_records(state: StateDep) -> Records:
    if state.records is None:
        raise ApiError(503, "store_unavailable", "The assistant's database is not available; see the gateway log.")
    return state.records


async def current_user(request: Request, state: StateDep, bearer: Annotated[str | None, Depends(oauth2)]) -> StaffUser:
    token = bearer
    if not token and (cookie := request.cookies.get(SESSION_COOKIE)):
        token = cookie
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent, csrf_token(cookie, state.jwt_secret)):
                raise ApiError(403, "csrf_failed", "The form is out of date: reload the page and try again.")
    unauthorized = ApiError(
        401,
        "not_authenticated",
        "Sign in first: send a bearer token from /api/v1/auth/token.",
        headers={"WWW-Authenticate": "Bearer"},
    )
    if not token or state.records is None:
        raise unauthorized
    try:
        claims = decode_session(token, state.jwt_secret)
    except jwt.ExpiredSignatureError as exc:
        raise ApiError(
            401, "token_expired", "Your session has expired: sign in again.", headers={"WWW-Authenticate": "Bearer"}
        ) from exc
    except jwt.PyJWTError as exc:
        raise unauthorized from exc
    user = state.records.user(str(claims["sub"]))
    if user is None or not user.active:
        raise unauthorized
    return user


def require(role: str) -> Callable[..., Coroutine[Any, Any, StaffUser]]:
    """A dependency that lets through users with ``role`` or a higher one."""

    async def check(user: Annotated[StaffUser, Depends(current_user)]) -> StaffUser:
        if RANK[user.role] < RANK[role]:
            raise ApiError(403, "forbidden", f"This needs the {role} role; you are signed in as {user.role}.")
        return user

    return check


Viewer = Annotated[StaffUser, Depends(require("viewer"))]
Editor = Annotated[StaffUser, Depends(require("editor"))]
Admin = Annotated[StaffUser, Depends(require("admin"))]
