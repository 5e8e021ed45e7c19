"""Staff accounts (admin): list, create, change role or deactivate; never the last admin."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from connectors.gateway.auth import hasher
from connectors.gateway.deps import Admin, StateDep, get_records
from connectors.gateway.errors import ApiError
from connectors.gateway.limits import STAFF_BODY_LIMIT, bounded_body
from records.models import StaffUser

router = APIRouter(
    prefix="/api/v1/admin",
    tags=["users"],
    route_class=bounded_body(STAFF_BODY_LIMIT, "a staff request is a few fields of text"),
)


class UserOut(BaseModel):
    username: str
    role: str
    active: bool
    created_at: dt.datetime


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(pattern=r"^[A-Za-z0-9_.@-]{3,80}$")
    password: str = Field(min_length=10, max_length=200)
    role: Literal["admin", "editor", "viewer"]


class UserChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["admin", "editor", "viewer"] | None = None
    active: bool | None = None
    password: str | None = Field(default=None, min_length=10, max_length=200)


def _user_out(user: StaffUser) -> UserOut:
    return UserOut.model_validate(user, from_attributes=True)


@router.get("/users", response_model=list[UserOut])
async def users(state: StateDep, user: Admin) -> list[UserOut]:
    return [_user_out(u) for u in await asyncio.to_thread(get_records(state).users)]


@router.post("/users", response_model=UserOut, status_code=201)
async def create_user(payload: UserIn, state: StateDep, user: Admin) -> UserOut:
    records = get_records(state)
    if await asyncio.to_thread(records.user, payload.username) is not None:
        raise ApiError(409, "user_exists", f"There is already an account {payload.username}.")
    password_hash = await asyncio.to_thread(hasher.hash, payload.password)
    created = await asyncio.to_thread(records.create_user, payload.username, password_hash, payload.role)
    await asyncio.to_thread(records.audit, user.username, "user_create", payload.username, role=payload.role)
    return _user_out(created)


@router.patch("/users/{username}", response_model=UserOut)
async def change_user(username: str, payload: UserChange, state: StateDep, user: Admin) -> UserOut:
    records = get_records(state)
    password_hash = await asyncio.to_thread(hasher.hash, payload.password) if payload.password else None
    changed = await asyncio.to_thread(
        records.update_user, username, role=payload.role, active=payload.active, password_hash=password_hash
    )  # no such account: NotFound, 404; the last active admin: Conflict "last_admin", 409
    detail = payload.model_dump(exclude_none=True, exclude={"password"}) | (
        {"password": "changed"} if password_hash else {}
    )
    await asyncio.to_thread(records.audit, user.username, "user_change", username, **detail)
    return _user_out(changed)
