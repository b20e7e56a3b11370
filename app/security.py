"""Who may call what: bearer keys checked in constant time, roles as dependencies.

Reads are public unless EVIDENCEDB_REQUIRE_READ_KEY is set; writes need a curator (or admin)
key. A missing or unknown key is a 401 with `WWW-Authenticate: Bearer`; a valid key with too
small a role is a 403. Neither answer repeats the key.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Query, Request

from app.api.deps import SessionDep
from app.enums import Role
from app.errors import Forbidden, Unauthorized
from app.schemas.common import PlainText
from app.services import keys
from app.services.keys import Principal
from app.services.writes import WriteRequest

RANK = {Role.READER: 0, Role.CURATOR: 1, Role.ADMIN: 2}


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <key>'")
    token = token.strip()
    # Keys are printable ASCII; anything else (a NUL, say) is no key of ours and must not
    # reach a query.
    if not (token.isascii() and token.isprintable()):
        raise Unauthorized("the key is not valid (unknown or revoked)")
    return token


def _principal(request: Request, session: SessionDep) -> Principal | None:
    """The caller's key, looked up once per request (None when no key was sent)."""
    if "principal" in request.scope.get("state", {}):
        return request.state.principal
    token = bearer_token(request)
    principal = None
    if token is not None:
        principal = keys.authenticate(session, token)
        if principal is None:
            raise Unauthorized("the key is not valid (unknown or revoked)")
    request.state.principal = principal
    return principal


def _require(role: Role, *, touch: bool = False):  # noqa: ANN202 - a dependency factory
    """A dependency admitting keys of `role` or above. Writes record the key's use inside
    their own transaction, so a refused or invalid write changes nothing at all."""

    def dependency(request: Request, session: SessionDep) -> Principal:
        principal = _principal(request, session)
        if principal is None:
            raise Unauthorized(f"this request needs a {role.value.lower()} key")
        if RANK[principal.role] < RANK[role]:
            raise Forbidden(f"this request needs a {role.value.lower()} key; "
                            f"the key given is a {principal.role.value.lower()} key")
        if touch:
            keys.touch(session, principal)
        return principal

    return dependency


def read_access(request: Request, session: SessionDep) -> Principal | None:
    """Reads: anyone, or any valid key when the settings require one."""
    if not request.app.state.settings.require_read_key:
        return None
    # A write records its key's use in its own transaction (see _require).
    touch = request.method in ("GET", "HEAD")
    return _require(Role.READER, touch=touch)(request, session)


CuratorDep = Annotated[Principal, Depends(_require(Role.CURATOR))]
AdminDep = Annotated[Principal, Depends(_require(Role.ADMIN))]
ReaderDep = Annotated[Principal | None, Depends(read_access)]


def write_request(
    request: Request,
    curator: CuratorDep,
    dry_run: Annotated[bool, Query(
        description="validate and report what would happen, changing nothing")] = False,
    idempotency_key: Annotated[PlainText | None, Header(
        min_length=1, max_length=200,
        description="retrying with the same key and body replays the first answer")] = None,
    x_change_reason: Annotated[PlainText | None, Header(
        min_length=1, max_length=2000, description="why: kept in the audit entry")] = None,
) -> WriteRequest:
    return WriteRequest(actor_id=curator.id, method=request.method, path=request.url.path,
                        reason=x_change_reason, idempotency_key=idempotency_key,
                        dry_run=dry_run)


WriteDep = Annotated[WriteRequest, Depends(write_request)]
