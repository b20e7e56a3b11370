"""The application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from app import __version__, metrics
from app.api.router import api_router, root_router
from app.cache import DataVersion, ResponseCache
from app.config import Settings, get_settings
from app.db import make_engine, make_sessionmaker, writer
from app.errors import install_handlers
from app.limits import LimitsMiddleware
from app.observability import RequestObservability, configure_logging


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
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(writer(engine))
    app.state.read_engine = read_engine
    app.state.read_sessionmaker = make_sessionmaker(read_engine)
    app.state.engines = {"primary": engine} | (
        {"replica": read_engine} if read_engine is not engine else {})
    install_handlers(app)
    app.include_router(api_router)
    app.include_router(root_router)
    if settings.response_cache_bytes > 0 and not settings.require_read_key:
        # Cached reads are keyed on the version of the database reads come from.
        app.add_middleware(ResponseCache, version=DataVersion(version_engine),
                           max_bytes=settings.response_cache_bytes)
    # Limits apply to every request, cached answers included; outermost of all, the request
    # log and metrics see every answer, refusals by the limits too.
    app.add_middleware(LimitsMiddleware, settings=settings)
    app.add_middleware(RequestObservability)
    return app
