"""Rate limits hold across workers, cover every route family, cost what a request asks for,
and are keyed on who the caller is: the key's id, or the client address as a trusted proxy
reports it. Spelling the Authorization header differently or rotating X-Forwarded-For never
opens a fresh bucket."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app import migrations
from app.config import Settings
from app.enums import Role
from app.main import create_app
from app.middleware.ratelimit import MemoryBuckets, SharedLimiter
from tests.toolkit import committed_key, free_port, live_server

ROOT = Path(__file__).resolve().parent.parent
# One window for the whole test: a window ending mid-test would refill every bucket.
WINDOW = "3600"
FAMILIES = ["/api/v1/studies", "/ctgov/api/v2/studies", "/fhir/ResearchStudy", "/version",
            "/metrics", "/", "/static/dashboard/app.js", "/openapi.json"]


def limited_app(url: str, **changes: object) -> TestClient:
    settings = Settings(database_url=url, response_cache_bytes=0, rate_limit_window_s=3600,
                        **changes)
    return TestClient(create_app(settings), raise_server_exceptions=False)


def statuses(responses: list[httpx.Response]) -> list[int]:
    return sorted(r.status_code for r in responses)


def test_the_limit_holds_across_two_workers_and_every_route_family(scratch_url):
    migrations.upgrade(scratch_url)
    env = {"EVIDENCEDB_DATABASE_URL": scratch_url, "EVIDENCEDB_RATE_LIMIT_PER_ADDRESS": "12",
           "EVIDENCEDB_RATE_LIMIT_WINDOW_S": WINDOW, "EVIDENCEDB_RESPONSE_CACHE_BYTES": "0"}
    with live_server(env, workers=2, extra_args=("--no-proxy-headers",)) as server:
        def get(i: int) -> httpx.Response:
            # A new connection each time, so both workers take requests.
            return httpx.get(server.url + FAMILIES[i % len(FAMILIES)], timeout=30)

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(get, range(48)))
        # Health probes are never limited: an orchestrator must not restart a busy service.
        assert httpx.get(server.url + "/healthz").status_code == 200
    assert set(statuses(answers)) == {200, 429}, [(r.status_code, r.text[:200]) for r in answers
                                                  if r.status_code not in (200, 429)]
    assert statuses(answers).count(200) == 12, statuses(answers)
    refused = [r for r in answers if r.status_code == 429]
    assert len(refused) == 36
    assert all(int(r.headers["retry-after"]) >= 1 for r in refused)
    assert {r.headers["content-type"] for r in refused} == {"application/problem+json"}


class StallingBuckets(MemoryBuckets):
    """The store in memory, whose next claim stalls until `release` is set: a slow store."""

    def __init__(self) -> None:
        super().__init__()
        self.stall_next = False
        self.stalled, self.release = threading.Event(), threading.Event()

    def claim(self, identity: str, window: int, amount: int) -> int:
        if self.stall_next:
            self.stall_next = False
            self.stalled.set()
            self.release.wait(30)
        return super().claim(identity, window, amount)


def test_a_request_waiting_for_the_store_keeps_what_its_lease_already_held():
    """A request that finds too little in its worker's lease claims the rest from the store;
    another request answered while it waits must not spend the part it counted on. (A
    dashboard's first burst of requests was refused with almost all of its budget unspent.)"""
    import asyncio

    import anyio.to_thread

    store = StallingBuckets()
    limiter = SharedLimiter(store, limit=6000, window_s=3600)

    async def scenario() -> tuple[float | None, float | None]:
        assert await limiter.take("key:1", 1) is None  # a lease of 1, spent
        assert await limiter.take("key:1", 1) is None  # a lease of 2: 1 left
        store.stall_next = True
        page = asyncio.create_task(limiter.take("key:1", 11))  # claims 10 beside the 1 left
        await anyio.to_thread.run_sync(store.stalled.wait, 30)
        small = await limiter.take("key:1", 1)  # answered while the page's claim waits
        store.release.set()
        return await page, small

    page, small = asyncio.run(scenario())
    assert (page, small) == (None, None)
    # Nothing was granted twice: the store counted at least what the three requests cost.
    assert store.claim("key:1", int(time.time() // 3600), 0) >= 1 + 1 + 11 + 1


def test_a_page_costs_by_its_size(scratch_url):
    migrations.upgrade(scratch_url)
    with limited_app(scratch_url, rate_limit_per_address=15) as c:
        assert c.get("/api/v1/studies?page_size=1000").status_code == 200  # costs 11
        assert c.get("/fhir/ResearchStudy?_count=1000").status_code == 429  # 11 more
        for _ in range(4):
            assert c.get("/fhir/ResearchStudy?_count=1").status_code == 200
        assert c.get("/fhir/ResearchStudy").status_code == 429
        assert c.get("/healthz").status_code == 200


def test_the_spelling_of_the_authorization_header_never_opens_a_fresh_bucket(scratch_url):
    migrations.upgrade(scratch_url)
    token = committed_key(scratch_url, Role.READER)
    spellings = [[("Authorization", f"Bearer {token}")], [("authorization", f"bearer {token}")],
                 [("AUTHORIZATION", f"BEARER    {token}  ")],
                 [("Authorization", f"Bearer {token}"), ("Authorization", "Bearer other")],
                 [("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")]]
    with limited_app(scratch_url, rate_limit_per_key=3, rate_limit_per_address=2) as c:
        answers = [c.get("/api/v1/studies", headers=headers)
                   for headers in spellings * 3]
    # Three for the key, two for the address (a double header is no key of anyone's).
    assert statuses(answers).count(200) == 5, statuses(answers)
    assert statuses(answers).count(429) == len(answers) - 5


def test_requests_with_a_key_count_against_the_key_not_the_address(scratch_url):
    migrations.upgrade(scratch_url)
    first, second = committed_key(scratch_url, Role.READER), committed_key(scratch_url, Role.READER)
    with limited_app(scratch_url, rate_limit_per_key=2, rate_limit_per_address=1,
                     require_read_key=True) as c:
        for token in (first, second):
            headers = {"Authorization": f"Bearer {token}"}
            assert c.get("/api/v1/studies", headers=headers).status_code == 200
            assert c.get("/version", headers=headers).status_code == 200
            refused = c.get("/api/v1/studies", headers=headers)
            assert refused.status_code == 429
            assert "key" in refused.json()["detail"]


def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(scratch_url):
    migrations.upgrade(scratch_url)
    rotating = [{"X-Forwarded-For": f"198.51.100.{i}"} for i in range(6)]
    settings = {"rate_limit_per_address": 3, "rate_limit_store": "memory"}
    with limited_app(scratch_url, **settings) as c:
        answers = [c.get("/version", headers=h) for h in rotating]
    assert statuses(answers) == [200] * 3 + [429] * 3

    # One window for the whole test, as limited_app gives: a window ending between the third
    # and the fourth request would refill the bucket.
    app = create_app(Settings(database_url=scratch_url, response_cache_bytes=0,
                              rate_limit_window_s=3600, trusted_proxies=["127.0.0.1"],
                              **settings))
    with TestClient(app, client=("127.0.0.1", 5000)) as c:
        # Each forwarded client has its own bucket; the proxy's own address is not the client.
        assert {c.get("/version", headers=h).status_code for h in rotating} == {200}
        same = {"X-Forwarded-For": "203.0.113.9, 198.51.100.77"}
        assert [c.get("/version", headers=same).status_code for _ in range(4)] == [
            200, 200, 200, 429]
        # Only the right end, as the trusted proxy wrote it, names the client.
        spoofed = [{"X-Forwarded-For": f"10.9.9.{i}, 198.51.100.77"} for i in range(3)]
        assert {c.get("/version", headers=h).status_code for h in spoofed} == {429}


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_serve_does_not_believe_x_forwarded_for_from_loopback(tmp_path):
    """`evidencedb serve` starts uvicorn without its proxy headers, which would trust any
    X-Forwarded-For sent from 127.0.0.1 and make every request a new client."""
    url = f"sqlite:///{tmp_path / 'serve.sqlite3'}"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDENCEDB_")}
    env.update({"EVIDENCEDB_DATABASE_URL": url, "EVIDENCEDB_RATE_LIMIT_PER_ADDRESS": "4",
                "EVIDENCEDB_RATE_LIMIT_WINDOW_S": WINDOW})
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
                                cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        answers = [httpx.get(base + "/version", headers={"X-Forwarded-For": f"192.0.2.{i}"})
                   for i in range(8)]
        assert statuses(answers) == [200] * 4 + [429] * 4
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
