"""Signing in: the OAuth2 password flow that gives staff a bearer token (the console uses a cookie)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from connectors.gateway.auth import client_key, hasher, issue_token
from connectors.gateway.deps import StateDep, get_records
from connectors.gateway.errors import ApiError
from connectors.gateway.limits import bounded_body
from connectors.gateway.state import GatewayState
from records.models import StaffUser

# A sign-in form is a user name and a password.
router = APIRouter(
    prefix="/api/v1/auth", tags=["auth"], route_class=bounded_body(16 * 1024, "a sign-in is a user name and a password")
)


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    role: str


async def authenticate(request: Request, state: GatewayState, username: str, password: str) -> StaffUser:
    """The account for a username and password; 429 after too many failures, 401 when wrong."""
    records = get_records(state)
    key = client_key(request, username)
    if state.login_limiter.blocked(key):
        raise ApiError(
            429,
            "too_many_attempts",
            "Too many failed sign-ins: wait a minute and try again.",
            headers={"Retry-After": "60"},
        )
    user = await asyncio.to_thread(records.user, username)
    valid = False
    if user is not None and user.active:
        valid, new_hash = await asyncio.to_thread(hasher.verify_and_update, password, user.password_hash)
        if valid and new_hash:
            await asyncio.to_thread(records.set_password_hash, user.username, new_hash)
    else:
        await asyncio.to_thread(hasher.hash, password)  # same time whether or not the user exists
    if not valid or user is None:
        state.login_limiter.failed(key)
        await asyncio.to_thread(records.audit, username[:80], "login_failed", key[1])
        raise ApiError(
            401, "invalid_credentials", "Wrong username or password.", headers={"WWW-Authenticate": "Bearer"}
        )
    await asyncio.to_thread(records.audit, user.username, "login", key[1])
    return user


@router.post("/token", response_model=TokenResponse)
async def token(
    request: Request, state: StateDep, form: Annotated[OAuth2PasswordRequestForm, Depends()]
) -> TokenResponse:
    """OAuth2 password flow: username + password -> bearer token."""
    user = await authenticate(request, state, form.username, form.password)
    minutes = state.settings.access_token_minutes
    return TokenResponse(
        access_token=issue_token(user, state.jwt_secret, minutes), expires_in=minutes * 60, role=user.role
    )
