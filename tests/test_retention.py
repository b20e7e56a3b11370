"""`evidencedb prune` on a committed database, read back through the API: old idempotency
records and finished deliveries go, new ones stay; with a feed retention the oldest changes
go as a prefix of the feed (never one a delivery is still pending for, never the newest), and
a cursor older than what is kept is a 410 naming the oldest cursor, which works."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, update
from sqlalchemy.sql import Executable

from app.config import Settings
from app.db import make_engine
from app.main import create_app
from app.models import Change, DeliveryAttempt, IdempotencyRecord, Subscription, WebhookDelivery
from app.services.feed import encode_cursor
from tests.authkit import API, bearer, leaked
from tests.builders import study_document
from tests.response_schemas import check_every_answer
from tests.toolkit import committed_key, migrated, run_cli, sql

NOW = dt.datetime.now(dt.UTC)
LONG_AGO = NOW - dt.timedelta(days=40)


def commit(url: str, *statements: Executable) -> None:
    """Statements committed on the database at `url`: rows made old, and the outcomes the
    delivery worker would have recorded."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(statement)
    finally:
        engine.dispose()


@dataclass
class Database:
    url: str
    client: TestClient
    auth: dict[str, str]

    def create(self, key: str, nct: str, **headers: str) -> Any:
        response = self.client.post(f"{API}/studies", json=study_document(key, nct),
                                    headers={**self.auth, **headers})
        assert response.status_code == 201, response.text
        return response

    def seqs(self) -> list[int]:
        return [row[0] for row in sql(self.url, "SELECT seq FROM change ORDER BY seq")]

    def prune(self, **env: str) -> str:
        done = run_cli(self.url, "prune", env=env)
        assert done.returncode == 0, done.stderr
        assert not leaked(done.stdout + done.stderr)
        return done.stdout.strip()


@pytest.fixture
def db(scratch_db: str) -> Iterator[Database]:
    url = migrated(scratch_db)
    token = committed_key(url, "curator", "retention curator")
    app = create_app(Settings(database_url=url, response_cache_bytes=0))
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            check_every_answer(client, app)
            yield Database(url, client, bearer(token))
    finally:
        app.state.engine.dispose()


def add_deliveries(url: str, deliveries: list[dict[str, Any]]) -> None:
    """Deliveries in the given states, each to a subscription of its own (of the first key)."""
    [(owner,)] = sql(url, "SELECT min(id) FROM api_key")
    commit(url, *[insert(Subscription).values(id=d["id"], owner_id=owner, filter={})
                  for d in deliveries])
    commit(url, *[insert(WebhookDelivery).values(subscription_id=d["id"], **d)
                  for d in deliveries])


def test_prune_removes_old_records_and_finished_deliveries_and_keeps_the_rest(db: Database):
    old = db.create("keep-1", "NCT09996601", **{"Idempotency-Key": "old-post"})
    db.create("keep-2", "NCT09996602", **{"Idempotency-Key": "new-post"})
    commit(db.url, update(IdempotencyRecord).where(
        IdempotencyRecord.idempotency_key == "old-post").values(created_at=LONG_AGO))
    first, second = db.seqs()
    add_deliveries(db.url, [
        {"id": 1, "change_seq": first, "status": "delivered", "created_at": LONG_AGO},
        {"id": 2, "change_seq": first, "status": "failed", "created_at": LONG_AGO},
        {"id": 3, "change_seq": second, "status": "delivered", "created_at": NOW},
        {"id": 4, "change_seq": second, "status": "pending", "created_at": LONG_AGO},
    ])
    commit(db.url, insert(DeliveryAttempt).values(delivery_id=1, status_code=200),
           insert(DeliveryAttempt).values(delivery_id=3, status_code=200))
    # Every change is old, but no feed retention is set: the feed keeps them all.
    commit(db.url, update(Change).values(at=LONG_AGO))

    assert db.prune() == "pruned 1 idempotency records, 2 webhook deliveries"
    assert [r[0] for r in sql(db.url, "SELECT id FROM webhook_delivery ORDER BY id")] == [3, 4]
    assert [r[0] for r in sql(db.url, "SELECT delivery_id FROM delivery_attempt")] == [3]
    assert db.seqs() == [first, second]
    # The newer key still replays its first answer; the older one was forgotten, so the
    # same request is a new write, refused because the study exists.
    replay = db.client.post(f"{API}/studies", json=study_document("keep-2", "NCT09996602"),
                            headers={**db.auth, "Idempotency-Key": "new-post"})
    assert replay.status_code == 201 and replay.json()["key"] == "keep-2"
    again = db.client.post(f"{API}/studies", json=study_document("keep-1", "NCT09996601"),
                           headers={**db.auth, "Idempotency-Key": "old-post"})
    assert again.status_code == 409, again.text
    assert old.json()["key"] == "keep-1"
    assert db.prune() == "pruned 0 idempotency records, 0 webhook deliveries"


def test_feed_retention_prunes_a_prefix_and_old_cursors_are_gone(db: Database):
    for n in range(6):
        db.create(f"old-{n}", f"NCT0999661{n}")
    seqs = db.seqs()
    assert seqs == list(range(1, 7))
    # The first four changes are old; a delivery is still pending for the fourth.
    commit(db.url, update(Change).where(Change.seq <= 4).values(at=LONG_AGO))
    add_deliveries(db.url, [
        {"id": 1, "change_seq": 4, "status": "pending", "created_at": NOW},
        {"id": 2, "change_seq": 2, "status": "delivered", "created_at": NOW}])

    retention = {"EVIDENCEDB_FEED_RETENTION_DAYS": "30"}
    assert db.prune(**retention) == ("pruned 0 idempotency records, 0 webhook deliveries, "
                                     "3 changes")
    assert db.seqs() == [4, 5, 6]
    # A delivery goes with its change.
    assert [r[0] for r in sql(db.url, "SELECT id FROM webhook_delivery")] == [1]

    for since in (encode_cursor(0), encode_cursor(2)):
        gone = db.client.get(f"{API}/changes", params={"since": since})
        assert gone.status_code == 410, gone.text
        assert gone.headers["content-type"].startswith("application/problem+json")
        assert gone.json()["oldest_cursor"] == encode_cursor(3)
        atom = db.client.get(f"{API}/changes.atom", params={"since": since})
        assert atom.status_code == 410, atom.text
        assert atom.json()["oldest_cursor"] == encode_cursor(3)
    oldest = db.client.get(f"{API}/changes", params={"since": encode_cursor(3)})
    assert oldest.status_code == 200, oldest.text
    assert [(i["id"], i["key"]) for i in oldest.json()["items"]] == [
        (4, "old-3"), (5, "old-4"), (6, "old-5")]
    # Without a cursor the feed starts at the oldest change it keeps.
    start = db.client.get(f"{API}/changes")
    assert [i["id"] for i in start.json()["items"]] == [4, 5, 6]
    assert db.client.get(f"{API}/changes.atom",
                         params={"since": encode_cursor(3)}).status_code == 200

    # Once the delivery is done, the fourth change may go too; the newer ones stay.
    commit(db.url, update(WebhookDelivery).values(status="delivered"))
    assert db.prune(**retention).endswith(", 1 changes")
    assert db.seqs() == [5, 6]
    assert db.client.get(f"{API}/changes", params={"since": encode_cursor(3)}
                         ).json()["oldest_cursor"] == encode_cursor(4)


def test_the_newest_change_is_kept_so_numbers_go_on(db: Database):
    for n in range(3):
        db.create(f"all-old-{n}", f"NCT0999662{n}")
    head = db.client.get(f"{API}/changes", params={"tail": 1}).json()["next_cursor"]
    commit(db.url, update(Change).values(at=LONG_AGO))

    assert db.prune(EVIDENCEDB_FEED_RETENTION_DAYS="1").endswith(", 2 changes")
    assert db.seqs() == [3]
    db.create("all-new", "NCT09996629")
    after = db.client.get(f"{API}/changes", params={"since": head}).json()
    assert [(i["id"], i["key"]) for i in after["items"]] == [(4, "all-new")]


def test_the_delivery_worker_prunes_when_it_starts_unless_told_not_to(db: Database):
    db.create("keep-3", "NCT09996603", **{"Idempotency-Key": "aged"})
    commit(db.url, update(IdempotencyRecord).values(created_at=LONG_AGO))
    count = "SELECT count(*) FROM idempotency_record"
    off = run_cli(db.url, "deliver", "--once", env={"EVIDENCEDB_PRUNE_INTERVAL_S": "0"})
    assert off.returncode == 0, off.stderr
    assert sql(db.url, count) == [(1,)]
    on = run_cli(db.url, "deliver", "--once")
    assert on.returncode == 0, on.stderr
    assert sql(db.url, count) == [(0,)]
    assert not leaked(on.stdout + on.stderr)
