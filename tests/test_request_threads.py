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


def test_a_read_makes_one_trip_to_the_thread_pool(settings, engine, monkeypatch):
    """The request's session is made on the event loop and ended in the endpoint's own
    thread (app.api.deps.SessionRoute): a study, a page of studies and a refusal each cost
    one trip to the thread pool, not three (the rate limits, which take their own trip when
    on, are off here)."""
    trips: list[object] = []
    run_sync = anyio.to_thread.run_sync

    async def counted(func, *args, **kwargs):
        trips.append(func)
        return await run_sync(func, *args, **kwargs)

    chosen = settings.model_copy(update={"rate_limit_per_address": 0})
    with TestClient(create_app(chosen)) as client:
        monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
        for url, status in [
                ("/api/v1/studies/NCT03537014", 200),
                ("/api/v1/studies?registry_id=NCT03537014&include=arms,outcomes", 200),
                ("/api/v1/studies/no-such-study", 404)]:
            trips.clear()
            response = client.get(url)
            assert response.status_code == status, response.text
            assert len(trips) == 1, (url, trips)
        assert client.get("/api/v1/studies/NCT03537014").json()["arms"]
