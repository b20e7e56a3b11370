"""The feed under concurrent writers, against a running server (two worker processes) on a
committed database: a follower that long-polls from a cursor taken before the writers start
sees every committed write exactly once, in commit order, and nothing of a write that failed.

On PostgreSQL the numbering is what the feed's advisory lock makes safe: without it, two
transactions committing at once would number their changes from the same head, and one
of two valid writes would fail (this test then fails).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.authkit import API, bearer
from tests.builders import study_document
from tests.toolkit import committed_key, live_server, migrated, scratch_database

WRITERS = 8
WRITES = 50


@dataclass
class Server:
    url: str
    tokens: list[str]


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with scratch_database(database_url, tmp_path_factory.mktemp("feed"), "feed_race") as url:
        migrated(url)
        # A key per writer: a write marks its key used inside its transaction, so writers
        # sharing one key would queue on that row and never commit at the same time.
        tokens = [committed_key(url, "curator", f"feed writer {n}") for n in range(WRITERS)]
        # Without the response cache a read sees every commit, whichever worker answers.
        with live_server({"EVIDENCEDB_DATABASE_URL": url,
                          "EVIDENCEDB_RESPONSE_CACHE_BYTES": "0"}, workers=2) as running:
            yield Server(running.url, tokens)


@dataclass
class Writer:
    """One curator's writes: each with the status it must get; the 2xx ones committed."""

    number: int
    committed: list[tuple[str, int]] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)

    def expect(self, response: httpx.Response, status: int) -> None:
        if response.status_code != status:
            self.wrong.append(f"{response.request.method} {response.request.url.path}: "
                              f"{response.status_code} instead of {status}: "
                              f"{response.text[:200]}")
        elif status < 300:
            body = response.json()
            self.committed.append((body["key"], body["version"]))

    def run(self, server: Server, rounds: threading.Barrier) -> None:
        auth = bearer(server.tokens[self.number])
        etags: dict[str, str] = {}
        with httpx.Client(base_url=server.url, timeout=120) as c:
            for i in range(WRITES):
                # Every round starts at once, so the writers' commits meet.
                rounds.wait()
                key = f"w{self.number}-{i // 5}"
                mine = list(etags)
                step = i % 5
                if step == 0:
                    doc = study_document(key, f"NCT{self.number + 1}{i:07d}")
                    response = c.post(f"{API}/studies", json=doc, headers=auth)
                    self.expect(response, 201)
                    etags[key] = response.headers.get("etag", "")
                elif step in (1, 2):
                    response = c.patch(f"{API}/studies/{mine[-1]}",
                                       json={"enrollment": 100 + i},
                                       headers={**auth, "If-Match": etags[mine[-1]]})
                    self.expect(response, 200)
                    etags[mine[-1]] = response.headers.get("etag", "")
                elif step == 3:
                    # A stale ETag (the study's first): refused, nothing changes.
                    response = c.patch(f"{API}/studies/{mine[-1]}", json={"enrollment": 1},
                                       headers={**auth, "If-Match": '"1"'})
                    self.expect(response, 412)
                elif i % 2:
                    # The same key again: the write runs, its commit is refused, it rolls back.
                    doc = study_document(mine[-1], f"NCT{self.number + 1}{i:07d}")
                    self.expect(c.post(f"{API}/studies", json=doc, headers=auth), 409)
                else:
                    response = c.patch(f"{API}/studies/{mine[-1]}", json={"enrollment": -1},
                                       headers={**auth, "If-Match": etags[mine[-1]]})
                    self.expect(response, 422)


@dataclass
class Follower:
    """Follows the feed with long polls until, after the writers are done, a look finds
    nothing new."""

    cursor: str
    items: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def run(self, server: Server, done: threading.Event) -> None:
        with httpx.Client(base_url=server.url, timeout=120) as c:
            while True:
                finished = done.is_set()
                response = c.get(f"{API}/changes",
                                 params={"since": self.cursor, "wait": 2, "limit": 200})
                if response.status_code != 200:
                    self.errors.append(response.text)
                    return
                page = response.json()
                self.items += page["items"]
                self.cursor = page["next_cursor"]
                if finished and not page["items"]:
                    return


def test_a_follower_sees_every_committed_write_once_in_commit_order(server: Server):
    with httpx.Client(base_url=server.url, timeout=60) as c:
        # The vocabulary the writers' studies share (their condition and intervention) is
        # stored once before they start, so their writes contend on the feed alone.
        first = c.post(f"{API}/studies", json=study_document("shared", "NCT09999001"),
                       headers=bearer(server.tokens[0]))
        assert first.status_code == 201, first.text
        tail = c.get(f"{API}/changes", params={"tail": 1})
        assert tail.status_code == 200, tail.text
        before = tail.json()
    first_id = before["items"][-1]["id"] + 1 if before["items"] else 1

    writers = [Writer(n) for n in range(WRITERS)]
    follower = Follower(before["next_cursor"])
    rounds, done = threading.Barrier(WRITERS), threading.Event()
    follow = threading.Thread(target=follower.run, args=(server, done))
    follow.start()
    threads = [threading.Thread(target=w.run, args=(server, rounds)) for w in writers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    done.set()
    follow.join(timeout=120)
    assert not follow.is_alive() and not any(t.is_alive() for t in threads)

    assert not follower.errors, follower.errors
    assert [wrong for w in writers for wrong in w.wrong] == []
    committed = [write for w in writers for write in w.committed]
    assert len(committed) == WRITERS * WRITES * 3 // 5
    seen = [(i["key"], i["version"]) for i in follower.items]
    # Every committed write exactly once, and nothing else (no failed write).
    assert Counter(seen) == Counter(committed)
    assert len(seen) == len(set(seen))
    # Numbered in commit order without a gap: a follower that saw n saw everything before.
    ids = [i["id"] for i in follower.items]
    assert ids == list(range(first_id, first_id + len(ids)))
    # Each study's versions in the order they were committed.
    versions: dict[str, list[int]] = {}
    for key, version in seen:
        versions.setdefault(key, []).append(version)
    assert all(v == sorted(v) for v in versions.values())
    assert {tuple(v) for v in versions.values()} == {(1, 2, 3)}
    assert all(i["action"] == ("create" if i["version"] == 1 else "update")
               for i in follower.items)
