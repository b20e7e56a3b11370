"""API keys: created once, stored as SHA-256 digests, revoked by prefix.

A key is a 256-bit random token; only its digest and its first characters (the prefix, for
lookup and display) are stored, so a stolen database holds no usable key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.db import begin_write
from app.enums import Role
from app.models import ApiKey
from app.services import audit
from app.types import utcnow

TOKEN_PREFIX = "evk_"
PREFIX_LENGTH = 12
# How stale last_used_at may get before a request refreshes it (one write a minute at most).
LAST_USED_RESOLUTION_S = 60


class KeyProblem(Exception):
    """A key operation that cannot be done (unknown or ambiguous prefix)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, name and role, never the key itself."""

    id: int
    name: str
    role: Role


def generate() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create(session: Session, *, name: str, role: Role, actor_id: int | None = None,
           audited: bool = False) -> tuple[ApiKey, str]:
    """A new key; the token is returned here once and never again. Keys made over HTTP are
    audited (who made which key, never the key)."""
    token = generate()
    key = ApiKey(name=name, role=role, prefix=token[:PREFIX_LENGTH], key_hash=digest(token),
                 created_at=utcnow())
    session.add(key)
    if audited:
        session.flush()
        audit.record(session, actor_id=actor_id, action="create", entity="api_key",
                     entity_key=str(key.id), version=None, before=None, after=describe(key))
    session.commit()
    return key, token


def describe(key: ApiKey) -> dict[str, Any]:
    """A key as listed: everything but its digest."""
    return {"id": key.id, "name": key.name, "role": key.role, "prefix": key.prefix,
            "created_at": key.created_at, "revoked_at": key.revoked_at,
            "last_used_at": key.last_used_at}


def revoke_by_id(session: Session, key_id: int, *, actor_id: int) -> ApiKey:
    """Revoke one key, audited; revoking twice keeps the first date and records nothing."""
    key = session.get(ApiKey, key_id)
    if key is None:
        raise KeyProblem(f"no key with id {key_id}")
    if key.revoked_at is None:
        before = describe(key)
        key.revoked_at = utcnow()
        audit.record(session, actor_id=actor_id, action="revoke", entity="api_key",
                     entity_key=str(key.id), version=None, before=before, after=describe(key))
    session.commit()
    return key


def list_all(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def revoke(session: Session, prefix: str) -> ApiKey:
    """Revoke the one key with this prefix (revoking twice keeps the first date)."""
    found = list(session.scalars(select(ApiKey).where(ApiKey.prefix == prefix)))
    if not found:
        raise KeyProblem(f"no key with prefix {prefix!r}")
    if len(found) > 1:
        raise KeyProblem(f"{len(found)} keys share prefix {prefix!r}; revoke by id instead")
    key = found[0]
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    session.commit()
    return key


def authenticate(session: Session, token: str) -> Principal | None:
    """The live key this token is, or None. Digests are compared in constant time."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    wanted = digest(token)
    candidates = session.execute(
        select(ApiKey.id, ApiKey.name, ApiKey.role, ApiKey.key_hash, ApiKey.revoked_at)
        .where(ApiKey.prefix == token[:PREFIX_LENGTH])
    ).all()
    match = None
    for row in candidates:
        if hmac.compare_digest(row.key_hash, wanted):
            match = row
    if match is None or match.revoked_at is not None:
        return None
    return Principal(id=match.id, name=match.name, role=match.role)


def mark_used(session: Session, key_id: int) -> None:
    """Set a key's last use to now (on the primary, in a transaction of its own)."""
    now = utcnow()
    begin_write(session)
    session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))
    session.commit()
