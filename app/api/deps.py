"""Request-scoped dependencies: the database session and query models."""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response, routing
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.api.query_models import fast_dependant
from app.middleware.logs import route_template

READ_METHODS = frozenset({"GET", "HEAD"})


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session for this request: GET and HEAD read from the read replica when
    EVIDENCEDB_READ_DATABASE_URL names one; every other method works on the primary (and, on
    SQLite, takes the write lock when its transaction begins). So GET routes never write.

    Made on the event loop: a session touches the database only when first used, so making
    it needs no trip to the thread pool. A `SessionRoute` ends it in the endpoint's own thread;
    a session still in a transaction here (a streamed export, an answer still to be
    serialised) is ended in the thread pool, since ending it asks the database to roll back.
    Ending rolls back whatever was not committed, as after a failure."""
    state = request.app.state
    factory = state.read_sessionmaker if request.method in READ_METHODS else state.sessionmaker
    session = factory()
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


def _ending_sessions(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            answer = endpoint(*args, **kwargs)
        except BaseException:
            _end(kwargs)
            raise
        # A built response needs the session no more; a stream reads it as it is sent, and
        # anything else is still to be serialised.
        if isinstance(answer, Response) and not isinstance(answer, StreamingResponse):
            _end(kwargs)
        return answer

    return run


def _end(arguments: dict[str, Any]) -> None:
    for value in arguments.values():
        if isinstance(value, Session):
            value.close()


class SessionRoute(APIRoute):
    """A route whose synchronous endpoint ends its request's session (`get_session`) in its
    own thread once it has answered: a request makes one trip to the thread pool, not three
    (make the session, run the endpoint, end the session). The two trips saved were about a
    tenth of a single study's CPU in the worker (bench/README.md)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _ending_sessions(endpoint)
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The handler, reading query-parameter models the short way (app.api.query_models).
        FastAPI builds one for the route and one for each router it is included through (a
        context holding that inclusion's dependant); the dependant it is built from is swapped
        for the handler only, so the OpenAPI document is drawn from the original."""
        context = getattr(routing, "_effective_route_context_var", None)
        route: Any = context.get() if context is not None else None
        if route is None or route.original_route is not self:
            route = self
        fast = fast_dependant(route.dependant)
        if fast is None:
            return super().get_route_handler()
        original, route.dependant = route.dependant, fast
        try:
            return super().get_route_handler()
        finally:
            route.dependant = original


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
