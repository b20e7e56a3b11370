"""Typed domain errors and the handlers that render every error as RFC 9457 problem+json."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, StatementError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

log = logging.getLogger("evidencedb")

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ProblemError(Exception):
    status = 500
    title = "Internal Server Error"
    headers: dict[str, str] = {}

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra
        if headers:
            self.headers = headers


class BadRequest(ProblemError):
    status, title = 400, "Bad Request"


class Unauthorized(ProblemError):
    status, title = 401, "Unauthorized"
    headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(ProblemError):
    status, title = 403, "Forbidden"


class NotFound(ProblemError):
    status, title = 404, "Not Found"


class Gone(ProblemError):
    status, title = 410, "Gone"


class Conflict(ProblemError):
    status, title = 409, "Conflict"


class PreconditionFailed(ProblemError):
    status, title = 412, "Precondition Failed"


class PayloadTooLarge(ProblemError):
    status, title = 413, "Content Too Large"


class UnprocessableContent(ProblemError):
    status, title = 422, "Unprocessable Content"


class PreconditionRequired(ProblemError):
    status, title = 428, "Precondition Required"


class TooManyRequests(ProblemError):
    status, title = 429, "Too Many Requests"


class ServiceUnavailable(ProblemError):
    status, title = 503, "Service Unavailable"


def problem_response(status: int, title: str, detail: str | None, *,
                     headers: Mapping[str, str] | None = None, **extra: Any) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail is not None:
        body["detail"] = detail
    body.update(extra)
    # orjson, like every other answer: extras may carry dates, enums or timestamps.
    return Response(orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS), status_code=status,
                    media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def validation_errors(errors: Any) -> list[dict[str, Any]]:
    """Pydantic's error list without the echoed input (it could hold a secret or be huge)."""
    out = []
    for err in errors:
        out.append({"loc": list(err.get("loc", ())), "msg": str(err.get("msg", "")),
                    "type": str(err.get("type", ""))})
    return out


def log_rejected(request: Request, errors: list[dict[str, Any]]) -> None:
    """Log a refused request by where and why, never by what was sent: a query string or body
    may carry a key or personal data."""
    log.info("request rejected", extra={"fields": {
        "event": "request rejected", "method": request.method,
        "errors": [{"loc": [str(p) for p in e.get("loc", ())], "type": str(e.get("type", ""))}
                   for e in errors],
    }})


def allowed_methods(request: Request) -> str:
    """Every method some route serves at the request's path (a path's methods may be
    spread over several routes; the router's own 405 names only the first route's)."""
    allowed = set()
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            allowed.add(method)
    if "GET" in allowed:
        allowed.add("HEAD")
    return ", ".join(sorted(allowed))


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> Response:
        if isinstance(exc.extra.get("errors"), list):
            log_rejected(request, exc.extra["errors"])
        return problem_response(exc.status, exc.title, exc.detail, headers=exc.headers,
                                **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = validation_errors(exc.errors())
        log_rejected(request, errors)
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"])
        message = str(first["msg"])
        return problem_response(422, "Unprocessable Content",
                                f"{where}: {message}" if where else message, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        title = {404: "Not Found", 405: "Method Not Allowed"}.get(exc.status_code, "Error")
        detail = exc.detail if isinstance(exc.detail, str) else None
        headers = exc.headers
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": allowed_methods(request)}
        return problem_response(exc.status_code, title, detail, headers=headers)

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> Response:
        log.info("integrity error: %s", type(exc.orig).__name__)
        return problem_response(409, "Conflict", "the change conflicts with stored data")

    @app.exception_handler(OperationalError)
    async def _unavailable(_: Request, exc: DBAPIError) -> Response:
        log.warning("database unavailable: %s", type(exc.orig).__name__)
        return problem_response(503, "Service Unavailable", "the database is not reachable",
                                headers={"Retry-After": "1"})

    @app.exception_handler(PoolTimeoutError)
    async def _pool_exhausted(_: Request, exc: PoolTimeoutError) -> Response:
        log.warning("database connection pool exhausted")
        return problem_response(503, "Service Unavailable", "the database is busy",
                                headers={"Retry-After": "1"})

    @app.exception_handler(DBAPIError)
    async def _dbapi(request: Request, exc: DBAPIError) -> Response:
        # A connection lost mid-request (the server restarted) is a 503 like a refused one.
        if exc.connection_invalidated:
            return await _unavailable(request, exc)
        return await _internal(request, exc)

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> Response:
        if isinstance(exc, StatementError):
            # The statement's parameters are the request's values: never logged.
            exc.hide_parameters = True
        log.exception("unhandled error")
        return problem_response(500, "Internal Server Error", "an unexpected error occurred")
