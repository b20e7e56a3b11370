"""The application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy.engine import Engine
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from app import __version__, metrics
from app.api.router import api_router, root_router
from app.config import Settings, get_settings
from app.db import make_engine, make_sessionmaker, writer
from app.errors import install_handlers
from app.middleware.cache import DataVersion, ResponseCache
from app.middleware.limits import LimitsMiddleware
from app.observability import RequestObservability, configure_logging
from app.security import KeyUse

# The dashboard loads its script and styles from files; its bars and timelines are sized with
# style attributes, the one inline form allowed (an attribute cannot run script). With a
# reader key it fetches the forest plot itself and shows it from a blob: URL (an image, which
# cannot run script either).
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; "
               "style-src-attr 'unsafe-inline'; img-src 'self' data: blob:; object-src 'none'; "
               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
_PAGE_TYPES = (b"text/html", b"image/svg+xml")


class SecurityHeaders:
    """`nosniff` on every answer; on pages and images that a browser renders as documents (HTML,
    SVG), a content security policy without inline script and a refusal to be framed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                content_type = next((v for n, v in headers if n.lower() == b"content-type"), b"")
                extra = [(b"x-content-type-options", b"nosniff")]
                if content_type.lower().startswith(_PAGE_TYPES):
                    extra += [(b"content-security-policy", PAGE_POLICY.encode()),
                              (b"x-frame-options", b"DENY")]
                message = {**message,
                           "headers": headers + [h for h in extra if h[0] not in names]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class PublicOrigin:
    """Requests seen as if made to the configured public base URL, so every link the service
    writes names it, never a Host header a client chose."""

    def __init__(self, app: ASGIApp, *, base_url: str) -> None:
        self.app = app
        self.scheme, _, host = base_url.partition("://")
        self.host = host.encode()
        port = host.rpartition(":")[2] if host.rpartition(":")[2].isdigit() else None
        self.server = (host.rsplit(":", 1)[0] if port else host,
                       int(port) if port else {"http": 80, "https": 443}[self.scheme])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = [(n, v) for n, v in scope["headers"] if n != b"host"]
            scope = {**scope, "scheme": self.scheme, "server": self.server,
                     "headers": [(b"host", self.host), *headers]}
        await self.app(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API on the database the settings name (nothing happens at import time)."""
    settings = settings or get_settings()
    configure_logging(settings.log_level)

    def engine_for(url: str, pool_size: int = settings.pool_size,
                   max_overflow: int = settings.max_overflow) -> Engine:
        return make_engine(
            url, pool_size=pool_size, max_overflow=max_overflow,
            pool_timeout=settings.pool_timeout_s, busy_timeout_ms=settings.sqlite_busy_timeout_ms,
            connect_timeout=settings.connect_timeout_s, echo=settings.log_sql,
        )

    engine = engine_for(settings.database_url)
    # GET and HEAD requests read from the replica when one is configured (see api/deps.py).
    read_engine = engine_for(settings.read_database_url) if settings.read_database_url else engine
    # The cache's version check runs on the event loop: it gets a connection of its own, never
    # one it would have to wait for while request threads hold the whole pool.
    version_engine = engine_for(settings.read_database_url or settings.database_url,
                                pool_size=1, max_overflow=0)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()
        read_engine.dispose()
        version_engine.dispose()
        metrics.process_exit()

    app = FastAPI(
        title="evidencedb",
        version=__version__,
        summary="Clinical-trial evidence: studies, results, effect sizes, follow-up, "
        "publications with retraction status and regulatory events.",
        lifespan=lifespan,
        # One schema per model: the document a read returns is the one a write accepts.
        separate_input_output_schemas=False,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(writer(engine))
    app.state.read_engine = read_engine
    app.state.read_sessionmaker = make_sessionmaker(read_engine)
    app.state.key_use = KeyUse(app.state.sessionmaker)
    app.state.engines = {"primary": engine} | (
        {"replica": read_engine} if read_engine is not engine else {})
    install_handlers(app)
    app.include_router(api_router)
    app.include_router(root_router)
    if settings.response_cache_bytes > 0 and not settings.require_read_key:
        # Cached reads are keyed on the version of the database reads come from.
        app.add_middleware(ResponseCache, version=DataVersion(version_engine),
                           max_bytes=settings.response_cache_bytes)
    if settings.cors_origins:
        # Outside the cache, which would otherwise replay one origin's grant to another. Keys
        # travel in the Authorization header, never in cookies: no credentials mode, so a
        # wildcard origin can never be combined with credentials.
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
            allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "If-None-Match",
                           "Idempotency-Key"],
            expose_headers=["ETag", "Link", "Location", "Retry-After", "x-next-page-token",
                            "x-total-count"])
    if settings.public_base_url:
        app.add_middleware(PublicOrigin, base_url=settings.public_base_url)
    # Limits apply to every request, cached answers included; outermost of all, the request
    # log and metrics see every answer, refusals by the limits too.
    app.add_middleware(LimitsMiddleware, settings=settings)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestObservability)
    return app
