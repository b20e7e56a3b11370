"""Webhooks of saved searches: the outbox is written with each committed change, and the
delivery worker (`evidencedb deliver`) sends every delivery, signed, to a real HTTP
receiver on this machine, retrying until the receiver answers 2xx or the retry window
closes; a worker killed mid-run loses nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from app.config import Settings
from tests.authkit import API
from tests.builders import study_document
from tests.toolkit import (
    bearer,
    committed_key,
    free_port,
    live_server,
    migrated,
    run_cli,
    sql,
)
from tests.toolkit.commands import ROOT

pytestmark = pytest.mark.usefixtures("no_key_leaks")

ALLOWED = {"EVIDENCEDB_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1,::1"}
# Fast retries: 0.05 s, 0.3 s, 1.2 s, …
FAST = {**ALLOWED, "EVIDENCEDB_WEBHOOK_BACKOFF_S": "0.05",
        "EVIDENCEDB_DELIVERY_INTERVAL_S": "0.05"}
WAIT_S = 120


# --- a receiver --------------------------------------------------------------------------------

@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that answers 500 to the first `failures` requests of each
    webhook-id and 200 after them (or 500 always; a redirect at /moved), keeping every
    request."""

    failures: int = 2
    always_fail: bool = False
    # While set, a request waits for `release` before it is answered.
    hold: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    held: threading.Event = field(default_factory=threading.Event)
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> int:
        if self.hold.is_set():
            self.held.set()
            self.release.wait(60)
        with self.lock:
            tries = sum(1 for r in self.requests if r.headers.get("webhook-id")
                        == headers.get("webhook-id"))
            status = 500 if self.always_fail or tries < self.failures else 200
            if path == "/moved":
                status = 307
            self.requests.append(Received(path, headers, body, status))
        return status

    def acknowledged(self) -> dict[str, int]:
        """How many bodies of each webhook-id were answered 2xx."""
        counts: dict[str, int] = defaultdict(int)
        for r in self.requests:
            if 200 <= r.status < 300:
                counts[r.headers["webhook-id"]] += 1
        return dict(counts)

    def of(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the handler's protocol)
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = state.answer(self.path, headers, body)
            self.send_response(status)
            if status == 307:
                self.send_header("location", f"{state.url}/elsewhere")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()


def verified(secret: str, r: Received) -> bool:
    """The receiver's check of a Standard Webhooks signature."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{r.headers['webhook-id']}.{r.headers['webhook-timestamp']}.".encode() + r.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(f"v1,{expected}", s)
               for s in r.headers["webhook-signature"].split())


# --- helpers -----------------------------------------------------------------------------------

def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def subscribe(live: Live, hook: str | None,
              study_filter: dict[str, Any] | None = None) -> tuple[int, str]:
    """A search saved by the subscriber's key; its id and signing secret."""
    body = {"filter": study_filter or {}, "url": hook}
    saved = httpx.post(f"{live.base}{API}/subscriptions", json=body,
                       headers=bearer(live.reader), timeout=60)
    assert saved.status_code == 201, saved.text
    return saved.json()["id"], saved.json().get("secret") or ""


def deliver_process(url: str, *args: str, **env: str) -> subprocess.Popen[str]:
    """`evidencedb deliver ARGS` in a new process on the database at `url`."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDENCEDB_")}
    full_env.update({"EVIDENCEDB_DATABASE_URL": url, **env})
    return subprocess.Popen([sys.executable, "-m", "app.cli", "deliver", *args], cwd=ROOT,
                            env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def statuses(url: str) -> list[str]:
    return [s for (s,) in sql(url, "SELECT status FROM webhook_delivery ORDER BY id")]


def wait_until(done: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not done():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.1)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def stop(proc: subprocess.Popen[str]) -> str:
    """SIGTERM, the process's own clean stop, once the worker says it has taken it; its
    output. (A signal that comes while Python is still starting kills it: that is not the
    worker's stop.)"""
    assert proc.stdout is not None
    said = []
    for line in proc.stdout:
        said.append(line)
        if " started; SIGTERM" in line:
            break
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=60)
    output = "".join(said) + output
    assert proc.returncode == 0, output
    return output


@dataclass
class Live:
    url: str
    base: str
    curator: dict[str, str]
    reader: str
    other: str


@pytest.fixture
def live(scratch_db: str) -> Iterator[Live]:
    """A migrated scratch database whose writes commit, served by uvicorn."""
    url = migrated(scratch_db)
    curator = committed_key(url, "curator", "webhook curator")
    reader = committed_key(url, "reader", "subscriber")
    other = committed_key(url, "reader", "someone else")
    with live_server({"EVIDENCEDB_DATABASE_URL": url, "EVIDENCEDB_RESPONSE_CACHE_BYTES": "0",
                      **ALLOWED}) as server:
        yield Live(url, server.url, bearer(curator), reader, other)


def post_study(c: httpx.Client, live: Live, key: str, nct: str, **overrides: Any) -> str:
    created = c.post(f"{API}/studies", json=study_document(key, nct, **overrides),
                     headers=live.curator)
    assert created.status_code == 201, created.text
    return str(created.headers["etag"])


def feed(c: httpx.Client) -> list[dict[str, Any]]:
    page = c.get(f"{API}/changes", params={"limit": 1000})
    assert page.status_code == 200, page.text
    items: list[dict[str, Any]] = page.json()["items"]
    return items


# --- through the real worker ---------------------------------------------------------------

def test_every_change_reaches_its_receivers_once_signed_in_order_after_failures(
        live: Live, receiver: Receiver):
    everything, all_secret = subscribe(live, receiver.url + "/all")
    phase3, phase3_secret = subscribe(live, receiver.url + "/phase3",
                                      {"phase": ["PHASE3"]})
    subscribe(live, None)  # a saved search without a webhook
    deleted, _ = subscribe(live, receiver.url + "/deleted")
    assert httpx.delete(f"{live.base}{API}/subscriptions/{deleted}",
                        headers=bearer(live.reader)).status_code == 204
    with httpx.Client(base_url=live.base, timeout=60) as c:
        post_study(c, live, "hook-1", "NCT09997701")
        etag = post_study(c, live, "hook-2", "NCT09997702", phase="PHASE3")
        patched = c.patch(f"{API}/studies/hook-2", json={"enrollment": 70},
                          headers={**live.curator, "If-Match": etag})
        assert patched.status_code == 200, patched.text
        # Writes that fail owe nothing.
        invalid = c.post(f"{API}/studies",
                         json=study_document("hook-3", "NCT09997703", enrollment=-1),
                         headers=live.curator)
        assert invalid.status_code == 422, invalid.text
        stale = c.patch(f"{API}/studies/hook-1", json={"enrollment": 1},
                        headers={**live.curator, "If-Match": etag})
        assert stale.status_code == 412, stale.text
        changes = feed(c)
    assert [(ch["key"], ch["action"]) for ch in changes] == [
        ("hook-1", "create"), ("hook-2", "create"), ("hook-2", "update")]
    assert statuses(live.url) == ["pending"] * 5
    assert receiver.requests == []

    worker = deliver_process(live.url, **FAST)
    try:
        wait_until(lambda: "pending" not in statuses(live.url), "every delivery finished")
    finally:
        output = stop(worker)
    assert statuses(live.url) == ["delivered"] * 5, output

    # Each change once (2xx-acknowledged) per receiver, after its own two failures.
    expected = {f"msg_{everything}_{ch['id']}" for ch in changes} | {
        f"msg_{phase3}_{ch['id']}" for ch in changes if ch["key"] == "hook-2"}
    assert receiver.acknowledged() == dict.fromkeys(expected, 1)
    for msg in expected:
        answers = [r.status for r in receiver.requests if r.headers["webhook-id"] == msg]
        assert answers == [500, 500, 200], msg
    assert receiver.of("/deleted") == []
    for path, secret, sub in (("/all", all_secret, everything),
                              ("/phase3", phase3_secret, phase3)):
        got = receiver.of(path)
        assert all(verified(secret, r) for r in got)
        assert not any(verified(new_secret(), r) for r in got)
        assert all(r.headers["content-type"] == "application/json" for r in got)
        bodies = [json.loads(r.body) for r in got]
        assert {b["type"] for b in bodies} == {"evidencedb.change"}
        assert {b["data"]["subscription"] for b in bodies} == {sub}
        # One change at a time, in commit order: no change is sent before the one before
        # it is delivered.
        seqs = [b["data"]["id"] for b in bodies]
        assert seqs == sorted(seqs)
        for r, b in zip(got, bodies, strict=True):
            assert r.headers["webhook-id"] == f"msg_{sub}_{b['data']['id']}"
            assert abs(int(r.headers["webhook-timestamp"]) - time.time()) < 3600
    delivered = {json.loads(r.body)["data"]["id"]: json.loads(r.body)["data"]
                 for r in receiver.of("/all") if r.status == 200}
    for ch in changes:
        assert delivered[ch["id"]] == {**ch, "subscription": everything}


def test_a_worker_killed_mid_delivery_loses_nothing(live: Live, receiver: Receiver):
    sub, _ = subscribe(live, receiver.url + "/hook")
    receiver.failures = 0
    with httpx.Client(base_url=live.base, timeout=60) as c:
        for n in range(3):
            post_study(c, live, f"kill-{n}", f"NCT0999771{n}")
        changes = feed(c)
    receiver.hold.set()
    settings = {**FAST, "EVIDENCEDB_WEBHOOK_TIMEOUT_S": "2"}
    first = deliver_process(live.url, **settings)
    try:
        assert receiver.held.wait(WAIT_S), "the worker sent nothing"
    finally:
        first.kill()  # SIGKILL while the receiver holds its request
        first.wait(timeout=60)
    # The claim outlives the worker: the delivery is still pending, claimed by nobody alive.
    assert statuses(live.url) == ["pending"] * 3
    receiver.hold.clear()
    receiver.release.set()

    second = deliver_process(live.url, **settings)
    try:
        wait_until(lambda: statuses(live.url) == ["delivered"] * 3, "the rerun delivered all")
    finally:
        stop(second)
    acknowledged = receiver.acknowledged()
    assert set(acknowledged) == {f"msg_{sub}_{ch['id']}" for ch in changes}
    assert all(n >= 1 for n in acknowledged.values())
    # The rerun took the killed worker's claim once it expired and sent it again.
    first_id = f"msg_{sub}_{changes[0]['id']}"
    assert sum(r.headers["webhook-id"] == first_id for r in receiver.requests) >= 2


def test_serve_runs_a_delivery_worker_and_stops_it_on_shutdown(live: Live, receiver: Receiver):
    receiver.failures = 0
    sub, secret = subscribe(live, receiver.url + "/served")
    with httpx.Client(base_url=live.base, timeout=60) as c:
        post_study(c, live, "served-1", "NCT09997751")  # not empty: serve seeds nothing
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDENCEDB_")}
    env.update({"EVIDENCEDB_DATABASE_URL": live.url, **FAST})
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: statuses(live.url) == ["delivered"], "the served worker delivered")
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/healthz"), "the server is up")
        [got] = receiver.of("/served")
        assert verified(secret, got)
        assert json.loads(got.body)["data"]["subscription"] == sub
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    # Ended by its signal as uvicorn ends, after the worker stopped.
    assert proc.returncode in (0, -signal.SIGTERM), output
    assert "webhook delivery worker stopped" in output


def test_a_delivery_that_keeps_failing_is_failed_after_the_retry_window(
        live: Live, receiver: Receiver):
    sub, _ = subscribe(live, receiver.url + "/down")
    receiver.always_fail = True
    # A window of 7.2 s: tries at once, after 0.2 s, 1.2 s and 4.8 s more, then none.
    settings = {**FAST, "EVIDENCEDB_WEBHOOK_BACKOFF_S": "0.2",
                "EVIDENCEDB_WEBHOOK_RETRY_HOURS": "0.002"}
    worker = deliver_process(live.url, **settings)
    try:
        with httpx.Client(base_url=live.base, timeout=60) as c:
            post_study(c, live, "down-1", "NCT09997721")
        wait_until(lambda: statuses(live.url) == ["failed"], "the delivery failed")
    finally:
        stop(worker)
    tries = len(receiver.of("/down"))
    assert tries >= 2
    [(attempts, code, error)] = sql(
        live.url, "SELECT attempts, last_status_code, last_error FROM webhook_delivery")
    assert (attempts, code) == (tries, 500)
    assert "500" in error
    with httpx.Client(base_url=live.base, timeout=60) as c:
        log = c.get(f"{API}/subscriptions/{sub}/deliveries", headers=bearer(live.reader))
    assert log.status_code == 200, log.text
    [entry] = log.json()["items"]
    assert entry["status"] == "failed" and entry["next_attempt_at"] is None
    assert [t["status_code"] for t in entry["tries"]] == [500] * tries


def test_deliver_once_stops_when_nothing_is_due(live: Live, receiver: Receiver):
    receiver.failures = 0
    # A URL naming a host: the request goes to the address checked for it, and names it.
    by_name = receiver.url.replace("127.0.0.1", "localhost")
    subscribe(live, by_name + "/once")
    with httpx.Client(base_url=live.base, timeout=60) as c:
        post_study(c, live, "once-1", "NCT09997731")
    proc = deliver_process(live.url, "--once", **FAST)
    output, _ = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 0, output
    assert "1 deliveries attempted" in output
    assert statuses(live.url) == ["delivered"]
    [got] = receiver.of("/once")
    assert got.headers["host"] == by_name.removeprefix("http://")


def test_an_address_outside_the_allowed_networks_is_not_sent_to(live: Live,
                                                                 receiver: Receiver):
    sub, _ = subscribe(live, receiver.url + "/refused")
    with httpx.Client(base_url=live.base, timeout=60) as c:
        post_study(c, live, "refused-1", "NCT09997741")
    # The worker checks the address again before it sends: loopback is no longer allowed.
    proc = deliver_process(live.url, "--once", EVIDENCEDB_WEBHOOK_BACKOFF_S="3600")
    output, _ = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 0, output
    assert receiver.requests == []
    [(status, attempts, error)] = sql(
        live.url, "SELECT status, attempts, last_error FROM webhook_delivery")
    assert (status, attempts) == ("pending", 1)
    assert "not public" in error or "allowed" in error
    with httpx.Client(base_url=live.base, timeout=60) as c:
        log = c.get(f"{API}/subscriptions/{sub}/deliveries", headers=bearer(live.reader))
    [entry] = log.json()["items"]
    assert entry["tries"][0]["status_code"] is None and entry["next_attempt_at"]


# --- the outbox and the delivery log, in the test transaction ---------------------------------

@pytest.fixture
def reader(make_key: Callable[..., str]) -> str:
    return make_key("reader", "subscriber")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Webhooks to 127.0.0.1 allowed, as a receiver on this machine needs."""
    return settings.model_copy(update={"webhook_allowed_networks": ["127.0.0.1/32"]})


def saved(client: Any, token: str, hook: str | None,
          study_filter: dict[str, Any] | None = None) -> int:
    """A search saved by the key `token`; its id."""
    response = client.post(f"{API}/subscriptions", json={"filter": study_filter or {},
                                                         "url": hook}, headers=bearer(token))
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def log_of(client: Any, sub: int, token: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get(f"{API}/subscriptions/{sub}/deliveries", params=params,
                          headers=bearer(token))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_the_outbox_owes_each_search_the_committed_changes_its_filter_matches(
        client, curator, reader):
    hook = "http://127.0.0.1:9/hook"
    head = client.get(f"{API}/changes", params={"tail": 1}).json()["next_cursor"]
    deleted = saved(client, reader, hook)
    everything = saved(client, reader, hook)
    phase3 = saved(client, reader, hook, {"phase": ["PHASE3"]})
    by_registry = saved(client, reader, hook, {"registry_id": ["NCT09997762"]})
    without_url = saved(client, reader, None)
    assert client.delete(f"{API}/subscriptions/{deleted}",
                         headers=bearer(reader)).status_code == 204
    one = study_document("outbox-1", "NCT09997761")
    two = study_document("outbox-2", "NCT09997762", phase="PHASE3")
    assert client.post(f"{API}/studies?dry_run=true", json=one,
                       headers=curator).status_code == 200
    assert client.post(f"{API}/studies", json={**one, "enrollment": -1},
                       headers=curator).status_code == 422
    for doc in (one, two):
        assert client.post(f"{API}/studies", json=doc, headers=curator).status_code == 201
    stale = client.patch(f"{API}/studies/outbox-2", json={"enrollment": 3},
                         headers={**curator, "If-Match": '"0-stale"'})
    assert stale.status_code == 412
    changes = client.get(f"{API}/changes", params={"since": head}).json()["items"]
    seq = {c["key"]: c["id"] for c in changes}
    assert set(seq) == {"outbox-1", "outbox-2"}

    def owed(sub: int) -> list[int]:
        return [d["change"] for d in log_of(client, sub, reader)]

    assert owed(everything) == [seq["outbox-2"], seq["outbox-1"]]  # newest first
    assert owed(phase3) == [seq["outbox-2"]]
    assert owed(by_registry) == [seq["outbox-2"]]
    assert owed(without_url) == []
    gone = client.get(f"{API}/subscriptions/{deleted}/deliveries", headers=bearer(reader))
    assert gone.status_code == 404
    [entry, _] = log_of(client, everything, reader)
    assert entry == {"id": entry["id"], "change": seq["outbox-2"],
                     "webhook_id": f"msg_{everything}_{seq['outbox-2']}",
                     "status": "pending", "attempts": 0, "created_at": entry["created_at"],
                     "next_attempt_at": entry["next_attempt_at"], "delivered_at": None,
                     "last_status_code": None, "last_error": None, "tries": []}


def test_a_filtered_search_is_owed_nothing_for_a_study_it_does_not_match(
        client, curator, reader):
    sub = saved(client, reader, "http://127.0.0.1:9/hook", {"phase": ["PHASE4"]})
    created = client.post(f"{API}/studies", json=study_document("outbox-3", "NCT09997763"),
                          headers=curator)
    assert created.status_code == 201
    # Its change to PHASE4 matches; the create before it did not.
    patched = client.patch(f"{API}/studies/outbox-3", json={"phase": "PHASE4"},
                           headers={**curator, "If-Match": created.headers["etag"]})
    assert patched.status_code == 200, patched.text
    changes = client.get(f"{API}/changes", params={"tail": 1}).json()["items"]
    assert [d["change"] for d in log_of(client, sub, reader)] == [changes[-1]["id"]]


def test_the_delivery_log_is_its_owners_alone_and_paged_newest_first(
        client, curator, reader, make_key):
    sub = saved(client, reader, "http://127.0.0.1:9/hook")
    for n in range(3):
        doc = study_document(f"outbox-log-{n}", f"NCT0999777{n}")
        assert client.post(f"{API}/studies", json=doc, headers=curator).status_code == 201
    first = client.get(f"{API}/subscriptions/{sub}/deliveries", params={"page_size": 2},
                       headers=bearer(reader))
    assert first.status_code == 200, first.text
    token = first.json()["next_page_token"]
    assert token and 'rel="next"' in first.headers["link"]
    rest = log_of(client, sub, reader, page_size=2, page_token=token)
    changes = [d["change"] for d in first.json()["items"] + rest]
    assert len(changes) == 3 and changes == sorted(changes, reverse=True)

    other = make_key("reader", "someone else")
    for headers in (bearer(other), bearer(make_key("curator", "a curator"))):
        response = client.get(f"{API}/subscriptions/{sub}/deliveries", headers=headers)
        assert response.status_code == 404, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    assert client.get(f"{API}/subscriptions/{sub}/deliveries").status_code == 401
    missing = client.get(f"{API}/subscriptions/{sub + 1000}/deliveries", headers=bearer(reader))
    assert missing.status_code == 404
    broken = client.get(f"{API}/subscriptions/{sub}/deliveries", params={"page_token": "abc"},
                        headers=bearer(reader))
    assert broken.status_code == 400


def test_a_bulk_load_from_the_command_line_owes_deliveries_like_the_api(
        live: Live, receiver: Receiver, tmp_path):
    receiver.failures = 0
    sub, secret = subscribe(live, receiver.url + "/loaded", {"phase": ["PHASE3"]})
    docs = [study_document("loaded-1", "NCT09997781"),
            study_document("loaded-2", "NCT09997782", phase="PHASE3"),
            study_document("loaded-3", "NCT09997783", enrollment=-5)]  # refused: its batch too
    path = tmp_path / "studies.ndjson"
    path.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    loaded = run_cli(live.url, "load", str(path), "--batch-size", "1")
    assert "loaded 2 studies" in loaded.stdout, loaded.stdout + loaded.stderr
    with httpx.Client(base_url=live.base, timeout=60) as c:
        [change] = [ch for ch in feed(c) if ch["key"] == "loaded-2"]
    proc = deliver_process(live.url, "--once", **FAST)
    output, _ = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 0, output
    [got] = receiver.of("/loaded")
    assert verified(secret, got)
    assert got.headers["webhook-id"] == f"msg_{sub}_{change['id']}"
    assert statuses(live.url) == ["delivered"]


def test_workers_running_at_once_send_each_delivery_once_and_in_order(
        live: Live, receiver: Receiver):
    receiver.failures = 0
    subs = [subscribe(live, receiver.url + f"/many-{n}")[0] for n in range(3)]
    with httpx.Client(base_url=live.base, timeout=60) as c:
        for n in range(6):
            post_study(c, live, f"many-{n}", f"NCT0999779{n}")
        changes = feed(c)
    workers = [deliver_process(live.url, **FAST) for _ in range(3)]
    try:
        wait_until(lambda: statuses(live.url) == ["delivered"] * 18, "all were delivered")
    finally:
        for worker in workers:
            stop(worker)
    expected = {f"msg_{sub}_{ch['id']}" for sub in subs for ch in changes}
    assert receiver.acknowledged() == dict.fromkeys(expected, 1)
    assert len(receiver.requests) == 18
    for n in range(3):
        seqs = [json.loads(r.body)["data"]["id"] for r in receiver.of(f"/many-{n}")]
        assert seqs == [ch["id"] for ch in changes]


def test_a_redirect_is_not_followed_and_counts_as_a_failed_try(live: Live, receiver: Receiver):
    receiver.failures = 0
    sub, _ = subscribe(live, receiver.url + "/moved")
    with httpx.Client(base_url=live.base, timeout=60) as c:
        post_study(c, live, "moved-1", "NCT09997791")
    proc = deliver_process(live.url, "--once", **{**FAST, "EVIDENCEDB_WEBHOOK_BACKOFF_S": "3600"})
    output, _ = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 0, output
    assert [r.path for r in receiver.requests] == ["/moved"]
    with httpx.Client(base_url=live.base, timeout=60) as c:
        [entry] = c.get(f"{API}/subscriptions/{sub}/deliveries",
                        headers=bearer(live.reader)).json()["items"]
    assert (entry["status"], entry["attempts"], entry["last_status_code"]) == ("pending", 1, 307)
    assert entry["next_attempt_at"] is not None and entry["delivered_at"] is None
