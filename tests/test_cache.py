"""Cached reads: repeated answers come from memory until any write changes the data."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app import migrations
from app.config import Settings
from app.db import make_engine
from app.main import create_app
from app.schemas.study import StudyCreate
from app.services import studies
from tests.builders import study_document
from tests.toolkit import committed_key


def test_repeated_reads_are_cached_until_a_write_elsewhere_is_seen_within_the_interval(
        scratch_url):
    committed_url = scratch_url
    migrations.upgrade(committed_url)
    app = create_app(Settings(database_url=committed_url, response_cache_bytes=1 << 20,
                              cache_version_interval_ms=200))
    engine = make_engine(committed_url)
    try:
        with TestClient(app) as client:
            with Session(engine) as session:
                studies.create(session, StudyCreate.model_validate(study_document("first")),
                               actor_id=None)
            url = "/api/v1/studies?fields=title"
            # Stored when asked for a second time, served from memory from the third.
            first, second, third = (client.get(url) for _ in range(3))
            assert first.status_code == second.status_code == third.status_code == 200
            assert "x-cache" not in first.headers
            assert "x-cache" not in second.headers
            assert third.headers["x-cache"] == "hit"
            assert third.content == first.content
            assert [i["key"] for i in third.json()["items"]] == ["first"]

            with Session(engine) as session:
                studies.create(session, StudyCreate.model_validate(
                    study_document("second", nct="NCT09999902")), actor_id=None)
            # A write by another process is seen once the interval has passed.
            time.sleep(0.3)
            fourth = client.get(url)
            assert "x-cache" not in fourth.headers
            assert [i["key"] for i in fourth.json()["items"]] == ["first", "second"]

            authorised = client.get(url, headers={"Authorization": "Bearer x"})
            assert "x-cache" not in authorised.headers
            missing = [client.get("/api/v1/studies/none") for _ in range(3)]
            assert [m.status_code for m in missing] == [404, 404, 404]
            assert not any("x-cache" in m.headers for m in missing)
    finally:
        app.state.engine.dispose()
        engine.dispose()


def test_concurrent_identical_reads_compute_the_answer_once(scratch_url):
    import asyncio

    import httpx

    migrations.upgrade(scratch_url)
    app = create_app(Settings(database_url=scratch_url, response_cache_bytes=1 << 20))
    engine = make_engine(scratch_url)
    try:
        with Session(engine) as session:
            studies.create(session, StudyCreate.model_validate(study_document("only")),
                           actor_id=None)

        async def many() -> list[httpx.Response]:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return await asyncio.gather(*(client.get("/api/v1/studies?include=arms")
                                              for _ in range(8)))

        responses = asyncio.run(many())
        assert {r.status_code for r in responses} == {200}
        assert len({r.content for r in responses}) == 1
        computed = [r for r in responses if "x-cache" not in r.headers]
        assert len(computed) == 1
    finally:
        app.state.engine.dispose()
        engine.dispose()


def test_a_write_through_the_same_worker_is_read_back_at_once(scratch_url):
    migrations.upgrade(scratch_url)
    token = committed_key(scratch_url, "curator")
    # An interval far longer than the test: only the write itself can make the cache ask.
    app = create_app(Settings(database_url=scratch_url, response_cache_bytes=1 << 20,
                              cache_version_interval_ms=3_600_000))
    try:
        with TestClient(app) as client:
            url = "/api/v1/studies?fields=title"
            assert client.get(url).json()["items"] == []
            assert "x-cache" not in client.get(url).headers
            assert client.get(url).headers["x-cache"] == "hit"
            created = client.post("/api/v1/studies", json=study_document("mine"),
                                  headers={"Authorization": f"Bearer {token}"})
            assert created.status_code == 201, created.text
            after = client.get(url)
            assert "x-cache" not in after.headers
            assert [i["key"] for i in after.json()["items"]] == ["mine"]
    finally:
        app.state.engine.dispose()


def test_the_version_check_leaves_the_event_loop_free_and_is_shared(scratch_url):
    migrations.upgrade(scratch_url)
    app = create_app(Settings(database_url=scratch_url, response_cache_bytes=1 << 20,
                              cache_version_interval_ms=3_600_000))
    version_reads: list[int] = []

    def on_execute(conn, cursor, statement, *args):  # noqa: ANN001, ANN202
        if "audit_entry" in statement and "max" in statement.lower():
            version_reads.append(threading.get_ident())

    async def many() -> tuple[int, list[httpx.Response]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answers = [await client.get(f"/api/v1/studies?fields=title&page_size={n}")
                       for n in range(1, 21)]
        return threading.get_ident(), answers

    event.listen(Engine, "before_cursor_execute", on_execute)
    try:
        loop_thread, answers = asyncio.run(many())
    finally:
        event.remove(Engine, "before_cursor_execute", on_execute)
        app.state.engine.dispose()
    assert {r.status_code for r in answers} == {200}
    # Twenty cacheable reads, one version read, and not on the event loop's thread.
    assert len(version_reads) == 1
    assert loop_thread not in version_reads


def test_a_write_through_one_worker_is_read_back_at_once_through_another(scratch_url):
    """Two apps on one database stand in for two workers of one server."""
    migrations.upgrade(scratch_url)
    token = committed_key(scratch_url, "curator")
    settings = Settings(database_url=scratch_url, response_cache_bytes=1 << 20,
                        cache_version_interval_ms=3_600_000)
    first, second = create_app(settings), create_app(settings)
    try:
        with TestClient(first) as writer, TestClient(second) as reader:
            url = "/api/v1/studies?fields=title"
            assert reader.get(url).json()["items"] == []
            assert "x-cache" not in reader.get(url).headers
            assert reader.get(url).headers["x-cache"] == "hit"
            created = writer.post("/api/v1/studies", json=study_document("elsewhere"),
                                  headers={"Authorization": f"Bearer {token}"})
            assert created.status_code == 201, created.text
            after = reader.get(url)
            assert "x-cache" not in after.headers
            assert [i["key"] for i in after.json()["items"]] == ["elsewhere"]
    finally:
        first.state.engine.dispose()
        second.state.engine.dispose()


def test_urls_asked_for_once_never_push_out_one_asked_for_again(scratch_url):
    """A small cache (an answer may take an eighth of it): a popular URL stays cached through
    many reads that never repeat their URL, because those are not stored."""
    migrations.upgrade(scratch_url)
    app = create_app(Settings(database_url=scratch_url, response_cache_bytes=4096,
                              cache_version_interval_ms=3_600_000))
    try:
        with TestClient(app) as client:
            popular = "/api/v1/studies?fields=title"
            assert ["x-cache" in client.get(popular).headers for _ in range(3)] == [
                False, False, True]
            one_offs = [client.get(f"/api/v1/studies?fields=title&page_size={n}")
                        for n in range(1, 61)]
            assert {r.status_code for r in one_offs} == {200}
            assert not any("x-cache" in r.headers for r in one_offs)
            assert client.get(popular).headers["x-cache"] == "hit"
            # One of them asked for again is stored then, and served from memory after.
            again = "/api/v1/studies?fields=title&page_size=7"
            assert ["x-cache" in client.get(again).headers for _ in range(2)] == [False, True]
    finally:
        app.state.engine.dispose()
