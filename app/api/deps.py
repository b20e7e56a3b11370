"""Request-scoped dependencies: the database session and query models."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.orm import Session

from app.db import session_scope
from app.middleware.logs import route_template

READ_METHODS = frozenset({"GET", "HEAD"})


def get_session(request: Request) -> Iterator[Session]:
    """A session for this request: GET and HEAD read from the read replica when
    EVIDENCEDB_READ_DATABASE_URL names one; every other method works on the primary (and, on
    SQLite, takes the write lock when its transaction begins). So GET routes never write."""
    state = request.app.state
    factory = state.read_sessionmaker if request.method in READ_METHODS else state.sessionmaker
    yield from session_scope(factory)


SessionDep = Annotated[Session, Depends(get_session)]


def next_page_url(request: Request, token: str | None) -> str | None:
    if token is None:
        return None
    return str(request.url.include_query_params(page_token=token))


_single_valued_lock = threading.Lock()


def _is_list(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "array" or any(
        option.get("type") == "array" for option in schema.get("anyOf", []))


def _single_valued_params(request: Request) -> frozenset[str]:
    """The query parameters of this request's operation that take one value, as the app's
    OpenAPI document declares them (read once per app)."""
    state = request.app.state
    if getattr(state, "single_valued", None) is None:
        with _single_valued_lock:
            if getattr(state, "single_valued", None) is None:
                paths = request.app.openapi().get("paths", {})
                state.single_valued = {
                    (method.upper(), path): frozenset(
                        p["name"] for p in operation.get("parameters", [])
                        if p.get("in") == "query" and not _is_list(p.get("schema", {})))
                    for path, operations in paths.items()
                    for method, operation in operations.items()}
    single: frozenset[str] = state.single_valued.get(
        (request.method, route_template(request.scope)), frozenset())
    return single


async def single_values(request: Request) -> None:
    """A parameter that takes one value, given twice, is refused rather than read as its
    last value (`min_enrollment=5&min_enrollment=500` does not say which was meant). Async:
    it reads only the URL, so it need not wait for the thread pool."""
    names = [name for name, _ in request.query_params.multi_items()]
    if len(names) == len(set(names)):
        return
    single = _single_valued_params(request)
    repeated = sorted({n for n in names if names.count(n) > 1} & single)
    if repeated:
        raise RequestValidationError([
            {"loc": ("query", name), "msg": "takes one value, given more than once",
             "type": "repeated_value"} for name in repeated])
