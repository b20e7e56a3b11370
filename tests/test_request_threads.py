"""How many requests a worker works on at once (EVIDENCEDB_REQUEST_THREADS)."""

from __future__ import annotations

import anyio.to_thread
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import make_engine
from app.main import SQLITE_REQUEST_THREADS, create_app, request_threads


def test_unset_it_is_small_on_sqlite_and_larger_on_postgresql(tmp_path):
    sqlite = make_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    postgres = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    settings = Settings(database_url="sqlite://")
    assert request_threads(settings, sqlite) == SQLITE_REQUEST_THREADS == 4
    assert request_threads(settings, postgres) == 40
    chosen = Settings(database_url="sqlite://", request_threads=7)
    assert request_threads(chosen, sqlite) == request_threads(chosen, postgres) == 7


def test_a_running_app_sizes_its_thread_pool_so(settings):
    """The app's lifespan sets the pool that runs its sync routes."""
    chosen = settings.model_copy(update={"request_threads": 3})
    with TestClient(create_app(chosen)) as client:
        assert client.get("/healthz").status_code == 200
        assert client.portal.call(
            lambda: anyio.to_thread.current_default_thread_limiter().total_tokens) == 3
