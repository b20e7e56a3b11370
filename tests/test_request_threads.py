"""How many requests a worker works on at once (EVIDENCEDB_REQUEST_THREADS)."""

from __future__ import annotations

import anyio.to_thread
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app, request_threads


def test_forty_unless_set():
    assert request_threads(Settings(database_url="sqlite://")) == 40
    assert request_threads(Settings(database_url="sqlite://", request_threads=7)) == 7


def test_a_running_app_sizes_its_thread_pool_so(settings):
    """The app's lifespan sets the pool that runs its sync routes."""
    chosen = settings.model_copy(update={"request_threads": 3})
    with TestClient(create_app(chosen)) as client:
        assert client.get("/healthz").status_code == 200
        assert client.portal.call(
            lambda: anyio.to_thread.current_default_thread_limiter().total_tokens) == 3
