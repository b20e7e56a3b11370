"""The application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import __version__
from app.api.router import api_router, root_router
from app.cache import DataVersion, ResponseCache
from app.config import Settings, get_settings
from app.db import make_engine, make_sessionmaker
from app.errors import install_handlers


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API on the database the settings name (nothing happens at import time)."""
    settings = settings or get_settings()
    engine = make_engine(
        settings.database_url, pool_size=settings.pool_size, max_overflow=settings.max_overflow,
        pool_timeout=settings.pool_timeout_s, busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        echo=settings.log_sql,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(
        title="evidencedb",
        version=__version__,
        summary="Clinical-trial evidence: studies, results, effect sizes, follow-up, "
        "publications with retraction status and regulatory events.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    install_handlers(app)
    app.include_router(api_router)
    app.include_router(root_router)
    if settings.response_cache_bytes > 0 and not settings.require_read_key:
        app.add_middleware(ResponseCache, version=DataVersion(engine),
                           max_bytes=settings.response_cache_bytes)
    return app
