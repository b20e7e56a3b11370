"""Auth dependencies: bearer keys (FastAPI's HTTPBearer, so the OpenAPI document carries the
scheme and every protected operation names it) and roles.

Reads are public unless EVIDENCEDB_REQUIRE_READ_KEY is set; writes need a curator (or admin)
key; key management needs an admin key. A missing or unknown key is a 401 with
`WWW-Authenticate: Bearer`; a valid key with too small a role is a 403.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.api.deps import READ_METHODS, SessionDep
from app.api.responses import plain_query_parameters
from app.enums import Role
from app.errors import Forbidden, Unauthorized
from app.schemas.common import PlainText
from app.security import allows, bearer_token
from app.services import keys
from app.services.keys import Principal
from app.services.writes import WriteRequest

SCHEME_NAME = "bearer"
OPTIONAL_SCHEME_NAME = "bearer_if_reads_need_a_key"
OPERATIONS_PATHS = frozenset({"/metrics", "/version", "/openapi.json", "/docs"})


class Bearer(HTTPBearer):
    """HTTPBearer for the OpenAPI document, with the house rules for the header itself
    (app/security.py). A lenient instance reads a malformed header as no key: public reads
    ignore whatever Authorization header they carry."""

    def __init__(self, *, strict: bool) -> None:
        super().__init__(scheme_name=SCHEME_NAME if strict else OPTIONAL_SCHEME_NAME,
                         auto_error=False,
                         description="An API key: `Authorization: Bearer evk_…`")
        self.strict = strict

    async def __call__(self, request: Request) -> HTTPAuthorizationCredentials | None:  # type: ignore[override]
        try:
            token = bearer_token(request.headers.getlist("authorization"))
        except Unauthorized:
            if self.strict:
                raise
            token = None
        if token is None:
            return None
        return HTTPAuthorizationCredentials(scheme="Bearer", credentials=token)


CredentialsDep = Annotated[HTTPAuthorizationCredentials | None, Depends(Bearer(strict=True))]
LenientCredentialsDep = Annotated[HTTPAuthorizationCredentials | None,
                                  Depends(Bearer(strict=False))]


def _principal(request: Request, session: SessionDep,
               credentials: CredentialsDep) -> Principal | None:
    """The caller's key, looked up once per request (None when no key was sent)."""
    if "principal" in request.scope.get("state", {}):
        found: Principal | None = request.state.principal
        return found
    principal = None
    if credentials is not None:
        principal = keys.authenticate(session, credentials.credentials)
        if principal is None:
            raise Unauthorized("the key is not valid (unknown or revoked)")
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal | None, Depends(_principal)]




def _require(role: Role) -> Callable[..., Principal]:
    """A dependency admitting keys of `role` or above. A write records its key's use inside
    its own transaction, so a refused or invalid write changes nothing at all."""

    def dependency(request: Request, session: SessionDep,
                   principal: PrincipalDep) -> Principal:
        if principal is None:
            raise Unauthorized(f"this request needs a {role.value.lower()} key")
        if not allows(principal.role, role):
            raise Forbidden(f"this request needs a {role.value.lower()} key; "
                            f"the key given is a {principal.role.value.lower()} key")
        if request.method in READ_METHODS:
            # On the primary, never through the read session (see KeyUse); a write records
            # its key's use inside its own transaction.
            request.app.state.key_use.note(principal.id)
        return principal

    return dependency


def _reader(request: Request, session: SessionDep,
            credentials: HTTPAuthorizationCredentials | None) -> Principal:
    principal = _principal(request, session, credentials)
    admitted: Principal = _require(Role.READER)(request, session, principal)
    return admitted


async def read_access(request: Request, session: SessionDep,
                      credentials: LenientCredentialsDep) -> Principal | None:
    """Reads: anyone (whatever key they send), or any valid key when the settings require
    one. Async, so that an open read (the usual case) costs no trip to the thread pool; a key
    is looked up in the pool, as every database call is."""
    if not request.app.state.settings.require_read_key:
        return None
    return await run_in_threadpool(_reader, request, session, credentials)


def operations_access(request: Request, session: SessionDep,
                      credentials: LenientCredentialsDep) -> Principal | None:
    """/metrics, /version and the API docs: like reads, unless configured open."""
    settings = request.app.state.settings
    if not settings.protect_operations or not settings.require_read_key:
        return None
    return _reader(request, session, credentials)


# Any valid key (reader or above): what owns a saved search.
KeyDep = Annotated[Principal, Depends(_require(Role.READER))]
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



# The generated document is a function of the routes alone (and costs half a second):
# apps of one process that serve the same routes share one build, each taking its own copy
# before its settings rewrite the security entries.
_BUILT: dict[tuple[Any, ...], bytes] = {}
_BUILT_LOCK = threading.Lock()


def _shared_build(app: FastAPI) -> Callable[[], dict[str, Any]]:
    generate = app.openapi

    def build() -> dict[str, Any]:
        key = (app.title, app.version, *(
            (type(r).__name__, getattr(r, "path", None), id(getattr(r, "endpoint", None)),
             tuple(sorted(getattr(r, "methods", None) or ())),
             getattr(r, "include_in_schema", None)) for r in app.routes))
        with _BUILT_LOCK:
            if key not in _BUILT:
                _BUILT[key] = orjson.dumps(generate())
        document: dict[str, Any] = orjson.loads(_BUILT[key])
        app.openapi_schema = document
        return document

    return build


def document_security(app: FastAPI) -> None:
    """The OpenAPI document's bearer requirements as they are: an operation that admits anyone
    (reads, unless EVIDENCEDB_REQUIRE_READ_KEY is set) lists the key as optional, one that
    needs a key lists it alone. (Reads name a second scheme only to be told apart here.)"""
    build = _shared_build(app)
    settings = app.state.settings
    # The first requests of a worker may ask for the document at once from several threads;
    # FastAPI's generator is not safe to run twice in parallel, and the document must not be
    # served before its security entries are rewritten.
    building = threading.Lock()
    ready: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        if ready:
            return ready[0]
        with building:
            if not ready:
                schema = build()
                _rewrite_security(schema)
                plain_query_parameters(schema)
                ready.append(schema)
            return ready[0]

    def _rewrite_security(schema: dict[str, Any]) -> None:
        required: list[dict[str, list[str]]] = [{SCHEME_NAME: []}]
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                names = {name for entry in operation.get("security", []) for name in entry}
                if SCHEME_NAME in names:
                    operation["security"] = required
                elif OPTIONAL_SCHEME_NAME in names:
                    public = not settings.require_read_key or (
                        not settings.protect_operations and path in OPERATIONS_PATHS)
                    operation["security"] = [{}, *required] if public else required
        schemes = schema.get("components", {}).get("securitySchemes", {})
        if OPTIONAL_SCHEME_NAME in schemes:
            schemes.setdefault(SCHEME_NAME, schemes.pop(OPTIONAL_SCHEME_NAME))

    app.openapi = openapi  # type: ignore[method-assign]


OperationsDep = Annotated[Principal | None, Depends(operations_access)]
