"""API keys as the admin endpoints take and show them (never their digest)."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from app.enums import Role
from app.schemas.common import ApiModel, Name, ReadModel


class ApiKeyCreate(ApiModel):
    name: Name = Field(max_length=200, description="who or what the key is for")
    role: Role


class ApiKeyRead(ReadModel):
    id: int
    name: str
    role: Role
    prefix: str = Field(description="the key's first characters, to recognise it by")
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="the key itself: shown in this answer only, never again")


class ApiKeyList(ReadModel):
    items: list[ApiKeyRead]
