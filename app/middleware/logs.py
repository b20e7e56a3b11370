"""The request log and request metrics, and request ids.

Every request ends with one JSON line on the `evidencedb.access` logger: time, method, route
template (`/api/v1/studies/{key}`, never the concrete path), status, duration in milliseconds and
the request id. Headers, bodies and query strings are never logged: any of them could carry a
key. A client's `X-Request-ID` is kept when it is short and made of safe characters, otherwise a
new one is made; either way it is echoed on the response.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import metrics

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
UNMATCHED_ROUTE = "<unmatched>"

access_log = logging.getLogger("evidencedb.access")


def request_id_from(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if _SAFE_REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    return uuid.uuid4().hex


def route_template(scope: Scope) -> str:
    """The matched route's path with its parameters as placeholders (`/api/v1/studies/{key}`).

    The route knows its own path; the prefixes of the routers it was included through are what
    the concrete path has in front of the route's rendered path. A request answered before
    routing (from the response cache) is matched against the application's path templates.
    """
    route = scope.get("route")
    own = getattr(route, "path_format", None)
    if not isinstance(own, str):
        return _match_template(scope)
    rendered = own
    for name, value in (scope.get("path_params") or {}).items():
        rendered = rendered.replace("{" + name + "}", str(value))
    path: str = scope.get("path", "")
    if rendered and path.endswith(rendered):
        return path[: len(path) - len(rendered)] + own
    return own


def _match_template(scope: Scope) -> str:
    app = scope.get("app")
    state = getattr(app, "state", None)
    if app is None or state is None or not hasattr(app, "openapi"):
        return UNMATCHED_ROUTE
    templates = getattr(state, "route_templates", None)
    if templates is None:
        paths = sorted(app.openapi().get("paths", {}), key=lambda p: (p.count("{"), p))
        templates = [(compile_path(p)[0], p) for p in paths]
        state.route_templates = templates
    path = scope.get("path", "")
    return next((t for regex, t in templates if regex.match(path)), UNMATCHED_ROUTE)


class RequestObservability:
    """ASGI middleware: request id, one access log line and the request metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_from(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500  # what the client gets when the app raises before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration = time.perf_counter() - started
            route = route_template(scope)
            metrics.observe_request(scope["method"], route, status, duration)
            app = scope.get("app")
            engines = getattr(getattr(app, "state", None), "engines", None)
            if engines:
                metrics.update_pool_gauges(engines)
            access_log.info("request", extra={"fields": {
                "method": scope["method"], "route": route, "status": status,
                "duration_ms": round(duration * 1000, 2), "request_id": request_id,
            }})
