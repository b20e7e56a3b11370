"""How many reads a worker works on at once (EVIDENCEDB_READS_AT_ONCE, app/middleware/gate.py).

The gate's rules are checked on the gate itself, in front of an application that records how
many requests it is inside at once and lets each go only when the test says so; the wiring and
the long poll through the real app.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.middleware.gate import ReadGate, leave_read_gate, reads_at_once
from tests.authkit import API, bearer
from tests.builders import study_document
from tests.toolkit import committed_key, migrated


class Recorder:
    """An ASGI app that counts the requests inside it and holds each until released."""

    def __init__(self, stream_after_start: bool = False, fail: bool = False) -> None:
        self.inside = 0
        self.most = 0
        self.entered = asyncio.Event()
        self.go = asyncio.Event()
        self.stream_after_start = stream_after_start
        self.fail = fail

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.inside += 1
        self.most = max(self.most, self.inside)
        self.entered.set()
        try:
            if self.stream_after_start:
                await send({"type": "http.response.start", "status": 200, "headers": []})
            await self.go.wait()
            if self.fail:
                raise RuntimeError("boom")
            if not self.stream_after_start:
                await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
        finally:
            self.inside -= 1


def _scope(method: str) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": "/", "headers": []}


async def _call(app: Any, method: str) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(_scope(method), receive, send)
    return sent


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def test_reads_beyond_the_limit_wait_their_turn():
    async def run() -> None:
        inner = Recorder()
        gate = ReadGate(inner, limit=2)
        tasks = [asyncio.create_task(_call(gate, m)) for m in ("GET", "HEAD", "GET", "GET")]
        await _settle()
        assert inner.inside == 2
        inner.go.set()
        answers = await asyncio.gather(*tasks)
        assert inner.most == 2
        assert all(a[0]["status"] == 200 for a in answers)
    asyncio.run(run())


def test_writes_pass_a_full_gate():
    async def run() -> None:
        inner = Recorder()
        gate = ReadGate(inner, limit=1)
        read = asyncio.create_task(_call(gate, "GET"))
        await _settle()
        writes = [asyncio.create_task(_call(gate, m)) for m in ("POST", "PATCH", "PUT", "DELETE")]
        await _settle()
        assert inner.inside == 5  # the read and all four writes
        inner.go.set()
        await asyncio.gather(read, *writes)
    asyncio.run(run())


def test_a_started_response_gives_its_place_back():
    """A streamed body (an export to a slow client) does not hold a place."""
    async def run() -> None:
        inner = Recorder(stream_after_start=True)
        gate = ReadGate(inner, limit=1)
        tasks = [asyncio.create_task(_call(gate, "GET")) for _ in range(3)]
        await _settle()
        assert inner.inside == 3  # each started its response, then let the next in
        inner.go.set()
        await asyncio.gather(*tasks)
    asyncio.run(run())


def test_a_failed_read_gives_its_place_back():
    async def run() -> None:
        inner = Recorder(fail=True)
        gate = ReadGate(inner, limit=1)
        inner.go.set()
        for _ in range(3):
            with pytest.raises(RuntimeError):
                await asyncio.wait_for(_call(gate, "GET"), timeout=5)
    asyncio.run(run())


def test_a_read_that_leaves_lets_the_next_in():
    async def run() -> None:
        entered: list[asyncio.Event] = []
        go = asyncio.Event()

        async def long_poll(scope: Any, receive: Any, send: Any) -> None:
            entered.append(asyncio.Event())
            entered[-1].set()
            leave_read_gate(scope)
            leave_read_gate(scope)  # twice is once
            await go.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        gate = ReadGate(long_poll, limit=1)
        tasks = [asyncio.create_task(_call(gate, "GET")) for _ in range(3)]
        await _settle()
        assert len(entered) == 3
        go.set()
        await asyncio.gather(*tasks)
        # Left early and released again at the end: still one place, not more.
        assert gate._semaphore()._value == 1
    asyncio.run(run())


def test_the_limit_follows_the_database_unless_set():
    assert reads_at_once(Settings(database_url="sqlite:///x.db")) == 4
    assert reads_at_once(Settings(database_url="postgresql+psycopg://u@h/db")) == 2
    assert reads_at_once(Settings(database_url="sqlite:///x.db",
                                  read_database_url="postgresql+psycopg://u@h/db")) == 2
    assert reads_at_once(Settings(database_url="postgresql+psycopg://u@h/db",
                                  read_database_url="sqlite:///replica.db")) == 4
    assert reads_at_once(Settings(database_url="sqlite:///x.db", reads_at_once=0)) == 0
    assert reads_at_once(Settings(database_url="postgresql+psycopg://u@h/db",
                                  reads_at_once=9)) == 9
    assert reads_at_once(Settings(database_url="postgresql+psycopg://u@h/db",
                                  reads_at_once=0)) == 0


def test_the_setting_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("EVIDENCEDB_READS_AT_ONCE", "3")
    assert Settings().reads_at_once == 3
    monkeypatch.setenv("EVIDENCEDB_READS_AT_ONCE", "-1")
    with pytest.raises(ValueError):
        Settings()


def _gates(app: Any) -> list[int]:
    return [m.kwargs["limit"] for m in app.user_middleware if m.cls is ReadGate]


def test_the_app_has_a_gate_only_with_a_limit(settings):
    assert _gates(create_app(settings.model_copy(update={"reads_at_once": None}))) == [
        2 if settings.database_url.startswith("postgresql") else 4]
    assert _gates(create_app(settings.model_copy(update={"reads_at_once": 2}))) == [2]
    assert _gates(create_app(settings.model_copy(update={"reads_at_once": 0}))) == []
    # Innermost: an answer the response cache holds never waits.
    app = create_app(settings.model_copy(update={"reads_at_once": 2}))
    assert app.user_middleware[-1].cls is ReadGate


@pytest.fixture
def gated(scratch_url):
    """An app with one read at a time on a scratch database (writes commit), and a curator's
    headers."""
    token = committed_key(migrated(scratch_url), "curator")
    app = create_app(Settings(database_url=scratch_url, response_cache_bytes=0,
                              reads_at_once=1))
    yield app, bearer(token)
    app.state.engine.dispose()


def test_a_long_poll_does_not_hold_up_other_reads(gated):
    """A change-feed long poll waiting for a change leaves the gate: study reads go on
    meanwhile, through a gate of one."""
    app, headers = gated
    with TestClient(app) as client:
        doc = study_document("gate-1", "NCT09997701")
        assert client.post(f"{API}/studies", json=doc, headers=headers).status_code == 201
        tail = client.get(f"{API}/changes", params={"tail": 1}).json()["next_cursor"]
        done = threading.Event()
        answer: dict[str, Any] = {}

        def poll() -> None:
            answer["poll"] = client.get(f"{API}/changes", params={"since": tail, "wait": 5})
            done.set()

        threading.Thread(target=poll, daemon=True).start()
        time.sleep(0.5)  # the poll is waiting
        studies = [client.get(f"{API}/studies", params={"page_size": 1}) for _ in range(3)]
        assert [r.status_code for r in studies] == [200] * 3
        assert not done.is_set(), "the reads had to wait for the poll to end"
        assert done.wait(15)
        assert answer["poll"].status_code == 200
        assert answer["poll"].json()["items"] == []


def test_reads_and_writes_together_all_answer(gated):
    """Many reads through a gate of one, with writes beside them: every one is answered."""
    app, headers = gated

    async def run() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            reads = [client.get(f"{API}/studies", params={"page_size": 2}) for _ in range(12)]
            writes = [client.post(f"{API}/studies", headers=headers,
                                  json=study_document(f"gate-{i}", f"NCT0999771{i}"))
                      for i in range(4)]
            answers = await asyncio.wait_for(asyncio.gather(*reads, *writes), timeout=60)
            return [a.status_code for a in answers]

    assert asyncio.run(run()) == [200] * 12 + [201] * 4
