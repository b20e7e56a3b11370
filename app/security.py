"""API keys: bearer tokens checked against their SHA-256 digests, and the curator dependency."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.api.deps import get_session
from app.enums import Role
from app.errors import Forbidden, Unauthorized
from app.models import ApiKey
from app.types import utcnow

WRITE_ROLES = (Role.CURATOR, Role.ADMIN)


def hash_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("this request needs an API key: Authorization: Bearer <key>")
    return token.strip()


def require_curator(request: Request,
                    session: Annotated[Session, Depends(get_session)]) -> ApiKey:
    """The curator or admin key the request carries; 401 without a valid key, 403 for readers."""
    digest = hash_key(_bearer(request))
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
    # The digest lookup already matched; the constant-time compare keeps timing independent
    # of how many leading characters agree should the lookup ever become a prefix match.
    if key is None or not hmac.compare_digest(key.key_hash, digest) or key.revoked_at:
        raise Unauthorized("the API key is not valid or was revoked")
    if key.role not in WRITE_ROLES:
        raise Forbidden("this API key may read but not write")
    key.last_used_at = utcnow()
    return key


CuratorDep = Annotated[ApiKey, Depends(require_curator)]
