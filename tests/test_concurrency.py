"""Concurrent curators against a running server: no lost update, ever.

These tests start uvicorn (two worker processes) on a scratch database with committed data,
not the rolled-back test transaction, so the database's own locking is what is tested.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.authkit import API, bearer, leaked
from tests.builders import study_document
from tests.toolkit import committed_key, live_server, migrated, scratch_database

ROUNDS = 20


@dataclass
class Server:
    url: str
    token: str
    log: Path


@pytest.fixture(scope="module")
def scratch_module_db(database_url: str, tmp_path_factory: pytest.TempPathFactory
                      ) -> Iterator[str]:
    with scratch_database(database_url, tmp_path_factory.mktemp("server"), "cur_server") as url:
        yield url


@pytest.fixture(scope="module")
def server(scratch_module_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    scratch_db = migrated(scratch_module_db)
    token = committed_key(scratch_db, "curator", "concurrent curator")
    log = tmp_path_factory.mktemp("log") / "server.log"
    # Reads go to either worker: without the response cache, a read after a write sees it
    # whichever worker answers (the cache's own staleness contract is tested in test_cache.py).
    with live_server({"EVIDENCEDB_DATABASE_URL": scratch_db,
                      "EVIDENCEDB_RESPONSE_CACHE_BYTES": "0"}, workers=2,
                     extra_args=("--log-level", "debug"), log=log) as running:
        yield Server(running.url, token, log)
    output = log.read_text()
    assert f"{API}/studies" in output, "the server's access log was captured"
    assert not leaked(output), "a key was logged by the server"


def test_two_patches_with_the_same_if_match_never_both_win(server: Server):
    auth = bearer(server.token)
    with httpx.Client(base_url=server.url, timeout=60) as c:
        created = c.post(f"{API}/studies", json=study_document("race", "NCT09999990"),
                         headers=auth)
        assert created.status_code == 201, created.text
        winners: list[str] = []
        for round_ in range(ROUNDS):
            current = c.get(f"{API}/studies/race")
            etag, version = current.headers["etag"], current.json()["version"]
            barrier = threading.Barrier(2)
            answers: dict[str, httpx.Response] = {}

            def attempt(label: str, etag: str = etag, round_: int = round_,
                        barrier: threading.Barrier = barrier,
                        answers: dict[str, httpx.Response] = answers) -> None:
                with httpx.Client(base_url=server.url, timeout=60) as own:
                    barrier.wait()
                    answers[label] = own.patch(
                        f"{API}/studies/race", json={"title": f"{label} {round_}"},
                        headers={**auth, "If-Match": etag,
                                 "Content-Type": "application/merge-patch+json"})

            threads = [threading.Thread(target=attempt, args=(label,)) for label in "AB"]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=120)
            statuses = sorted(r.status_code for r in answers.values())
            assert statuses == [200, 412], [r.text for r in answers.values()]
            winner = next(label for label, r in answers.items() if r.status_code == 200)
            winners.append(f"{winner} {round_}")
            after = c.get(f"{API}/studies/race").json()
            assert after["title"] == f"{winner} {round_}"
            assert after["version"] == version + 1
            assert not leaked(" ".join(r.text + str(r.headers) for r in answers.values()))
        history = c.get(f"{API}/studies/race/history", params={"page_size": 1000}).json()
        updates = [h for h in history["items"] if h["action"] == "update"]
        assert [h["changes"]["title"]["after"] for h in updates] == winners
        assert [h["version"] for h in history["items"]] == list(range(1, ROUNDS + 2))


def test_server_refuses_an_endless_chunked_body_before_its_end(server: Server):
    limit = 1024 * 1024
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(f"POST {API}/studies HTTP/1.1\r\nHost: {host}\r\n"
                  f"Authorization: Bearer {server.token}\r\n"
                  "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                  .encode())
        chunk = b" " * 65536
        for _ in range(limit // len(chunk) + 2):  # past the limit, and never the last chunk
            s.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        reply = b""
        while b"\r\n\r\n" not in reply:
            data = s.recv(65536)
            if not data:
                break
            reply += data
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b"application/problem+json" in reply


def test_the_same_keyed_post_sent_twice_at_once_creates_one_study(server: Server):
    auth = bearer(server.token)
    for round_ in range(5):
        key = f"twin-{round_}"
        doc = study_document(key, f"NCT0999980{round_}")
        barrier = threading.Barrier(2)
        answers: list[httpx.Response] = []

        def send(doc: dict = doc, key: str = key, barrier: threading.Barrier = barrier,
                 answers: list[httpx.Response] = answers) -> None:
            with httpx.Client(base_url=server.url, timeout=60) as own:
                barrier.wait()
                answers.append(own.post(f"{API}/studies", json=doc,
                                        headers={**auth, "Idempotency-Key": f"post-{key}"}))

        threads = [threading.Thread(target=send) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert [r.status_code for r in answers] == [201, 201], [r.text for r in answers]
        assert answers[0].json() == answers[1].json()
        with httpx.Client(base_url=server.url, timeout=60) as c:
            history = c.get(f"{API}/studies/{key}/history").json()["items"]
        assert [h["action"] for h in history] == ["create"]


def test_one_publication_retracted_twice_at_once_is_retracted_once(server: Server):
    auth = bearer(server.token)
    for round_ in range(5):
        key = f"retract-twice-{round_}"
        with httpx.Client(base_url=server.url, timeout=60) as c:
            made = c.post(f"{API}/studies", json=study_document(key, f"NCT0999970{round_}"),
                          headers=auth)
            assert made.status_code == 201, made.text
            pub_id = made.json()["publications"][0]["id"]
        barrier = threading.Barrier(2)
        answers: list[httpx.Response] = []

        def send(pub_id: int = pub_id, barrier: threading.Barrier = barrier,
                 answers: list[httpx.Response] = answers) -> None:
            with httpx.Client(base_url=server.url, timeout=60) as own:
                barrier.wait()
                answers.append(own.post(f"{API}/publications/{pub_id}/retraction",
                                        json={"date": "2025-06-01", "notice": "Retracted"},
                                        headers=auth))

        threads = [threading.Thread(target=send) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert sorted(r.status_code for r in answers) == [200, 409], [r.text for r in answers]
        with httpx.Client(base_url=server.url, timeout=60) as c:
            history = c.get(f"{API}/studies/{key}/history").json()["items"]
        assert [h["action"] for h in history] == ["create", "retraction"]


def test_curators_naming_the_same_new_condition_at_once_all_succeed(server: Server,
                                                                     scratch_module_db: str):
    """The first study to name a condition or intervention creates it in the vocabulary; two
    curators doing so at the same moment must both succeed, sharing one entry, not have the
    second refused for a name that did not exist when it began."""
    keys = [bearer(committed_key(scratch_module_db, "curator", f"curator {n}")) for n in range(4)]
    for round_ in range(5):
        condition, drug = f"Concurrent disorder {round_}", f"Concurrent drug {round_}"
        barrier = threading.Barrier(len(keys))
        answers: list[httpx.Response] = []

        def create(n: int, condition: str = condition, drug: str = drug, round_: int = round_,
                   barrier: threading.Barrier = barrier,
                   answers: list[httpx.Response] = answers) -> None:
            doc = study_document(f"vocab-{round_}-{n}", f"NCT0980{round_:02d}{n:02d}")
            doc["conditions"] = [condition]
            doc["arms"][0]["interventions"][0]["name"] = drug
            with httpx.Client(base_url=server.url, timeout=60) as own:
                barrier.wait()
                answers.append(own.post(f"{API}/studies", json=doc, headers=keys[n]))

        threads = [threading.Thread(target=create, args=(n,)) for n in range(len(keys))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert [r.status_code for r in answers] == [201] * len(keys), [r.text for r in answers]
        with httpx.Client(base_url=server.url, timeout=60) as c:
            for vocabulary, name in (("conditions", condition), ("interventions", drug)):
                found = c.get(f"{API}/{vocabulary}", params={"name": name}).json()["items"]
                assert [f["name"] for f in found] == [name]
            studies = c.get(f"{API}/studies", params={"condition": condition,
                                                      "page_size": 10}).json()["items"]
            assert len(studies) == len(keys)
