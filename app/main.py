"""The application factory."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from app import __version__, metrics, middleware
from app.api.auth import document_security
from app.api.router import api_router, root_router
from app.config import Settings, get_settings
from app.db import make_engine, make_sessionmaker, writer
from app.errors import install_handlers
from app.middleware.ratelimit import shared_store
from app.observability import configure_logging
from app.security import KeyIds, KeyUse
from app.server import limit_malloc_arenas


@dataclass
class Engines:
    primary: Engine
    read: Engine
    # Off the request pool: the cache's version reads and the rate limiter's key lookups,
    # which must never wait for a connection while request threads hold the whole pool.
    side: Engine
    others: list[Engine] = field(default_factory=list)

    def dispose(self) -> None:
        for engine in {id(e): e for e in (self.primary, self.read, self.side,
                                          *self.others)}.values():
            engine.dispose()


def _engines(settings: Settings) -> Engines:
    def engine_for(url: str, pool_size: int = settings.pool_size,
                   max_overflow: int = settings.max_overflow) -> Engine:
        return make_engine(
            url, pool_size=pool_size, max_overflow=max_overflow,
            pool_timeout=settings.pool_timeout_s, busy_timeout_ms=settings.sqlite_busy_timeout_ms,
            connect_timeout=settings.connect_timeout_s, echo=settings.log_sql,
        )

    primary = engine_for(settings.database_url)
    # GET and HEAD requests read from the replica when one is configured (see api/deps.py).
    read = engine_for(settings.read_database_url) if settings.read_database_url else primary
    side = engine_for(settings.read_database_url or settings.database_url,
                      pool_size=1, max_overflow=2)
    return Engines(primary, read, side)


def request_threads(settings: Settings) -> int:
    """How many threads a worker's sync routes and dependencies run on (EVIDENCEDB_REQUEST_THREADS,
    40 by default).

    Keep it above the number of concurrent writers: a write holds SQLite's write lock from
    its transaction's start (one trip to the pool) to its commit (another), so with fewer
    threads than writers the writers waiting for the lock hold every thread and the one
    holding it never gets one back (each waits out the busy timeout). Reads are bounded
    instead by app.middleware.gate (4 at once on SQLite), which never holds a write."""
    return settings.request_threads


def _freeze_start_up() -> None:
    """Leave what start-up made out of the collector's full collections, once per process.

    A worker starts with a few hundred thousand long-lived objects (the modules, the models,
    the routes). Every full collection went over them all again: 25 to 160 ms each, five
    times in a worker's first seconds of traffic, every request waiting meanwhile. Frozen
    (`gc.freeze`) after a collection of start-up's garbage, they are left out, and a full
    collection goes over what requests made since (docs/design-notes.md).
    Only the first app of a process freezes: the objects of apps made later (tests make
    many) stay collectable."""
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()


def _lifespan(engines: Engines) -> Callable[[FastAPI], Any]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The thread pool that runs sync routes and dependencies: its size bounds how many
        # requests this worker works on at once.
        threads = anyio.to_thread.current_default_thread_limiter()
        threads.total_tokens = request_threads(app.state.settings)
        _freeze_start_up()
        yield
        app.state.key_use.wait()
        engines.dispose()
        metrics.process_exit()

    return lifespan


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API on the database the settings name (nothing happens at import time)."""
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    limit_malloc_arenas()
    engines = _engines(settings)
    store, store_engine = shared_store(settings)
    if store_engine is not None:
        engines.others.append(store_engine)
    app = FastAPI(
        title="evidencedb",
        version=__version__,
        summary="Clinical-trial evidence: studies, results, effect sizes, follow-up, "
        "publications with retraction status and regulatory events.",
        lifespan=_lifespan(engines),
        # Served by app/api/routes/dashboard.py, behind a key when reads need one.
        openapi_url=None, docs_url=None, redoc_url=None,
        # One schema per model: the document a read returns is the one a write accepts.
        separate_input_output_schemas=False,
    )
    state = app.state
    state.settings = settings
    state.engine, state.read_engine = engines.primary, engines.read
    state.sessionmaker = make_sessionmaker(writer(engines.primary))
    state.read_sessionmaker = make_sessionmaker(engines.read)
    state.key_use = KeyUse(state.sessionmaker)
    state.engines = {"primary": engines.primary} | (
        {"replica": engines.read} if engines.read is not engines.primary else {})
    install_handlers(app)
    app.include_router(api_router)
    app.include_router(root_router)
    document_security(app)
    middleware.install(app, settings, side_engine=engines.side, store=store,
                       key_ids=KeyIds(make_sessionmaker(engines.side)))
    return app
