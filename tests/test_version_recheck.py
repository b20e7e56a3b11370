"""The atomic version re-check, on SQLite and on PostgreSQL, with committed data.

A write reads the study's version (for If-Match), then updates the row only where the version
is still the one it read. Two connections here: the first takes its write and holds it, the
second (a request) comes in with the ETag both read.

- PostgreSQL: the request reads the old version, passes If-Match, and its conditional UPDATE
  waits for the first's row lock; once the first commits, the UPDATE finds the version moved
  and matches no row: only the re-check turns that into 412.
- SQLite: the request's write transaction begins IMMEDIATE, so it waits for the first's lock
  before it reads anything and then sees the new version (412 from If-Match). A real second
  writer can never reach the re-check on SQLite; the first test puts a change between the read
  and the conditional UPDATE on the request's own connection, so the re-check itself is
  exercised on both databases.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, text

from app import migrations
from app.config import Settings
from app.db import begin_write, make_engine, make_sessionmaker
from app.enums import Role
from app.main import create_app
from app.services import keys
from tests.authkit import API, KEYRING, bearer
from tests.builders import study_document

RECHECK = "SET version=study.version"


@pytest.fixture
def committed(scratch_url: str, settings: Settings) -> Iterator[tuple[TestClient, Any, dict]]:
    """A client on a migrated scratch database whose writes really commit, its engine and a
    curator's headers."""
    migrations.upgrade(scratch_url)
    app = create_app(settings.model_copy(update={"database_url": scratch_url}))
    with make_sessionmaker(app.state.engine)() as session:
        _, token = keys.create(session, name="racing curator", role=Role.CURATOR)
    KEYRING.append(token)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, app.state.engine, bearer(token)
    app.state.engine.dispose()


def create(client: TestClient, headers: dict, key: str, nct: str) -> str:
    response = client.post(f"{API}/studies", json=study_document(key, nct), headers=headers)
    assert response.status_code == 201, response.text
    return response.headers["etag"]


def test_a_version_moved_between_read_and_update_is_refused(committed):
    client, engine, headers = committed
    etag = create(client, headers, "recheck-1", "NCT09995501")
    fired: list[str] = []

    def interleave(conn, cursor, statement, parameters, context, executemany):
        if RECHECK in statement and not fired:
            fired.append(statement)
            other = conn.connection.cursor()
            other.execute("UPDATE study SET version = version + 1, title = 'changed between' "
                          "WHERE key = 'recheck-1'")
            other.close()

    event.listen(engine, "before_cursor_execute", interleave)
    try:
        response = client.patch(f"{API}/studies/recheck-1", json={"title": "lost update"},
                                headers={**headers, "If-Match": etag})
    finally:
        event.remove(engine, "before_cursor_execute", interleave)
    assert fired, "the write re-checks the version with a conditional UPDATE"
    assert response.status_code == 412, response.text
    assert response.headers["content-type"] == "application/problem+json"
    study = client.get(f"{API}/studies/recheck-1").json()
    assert study["title"] == "A randomized trial of a test intervention for PTSD"
    history = client.get(f"{API}/studies/recheck-1/history").json()["items"]
    assert [h["action"] for h in history] == ["create"]


def test_a_write_waiting_for_another_writer_is_refused_after_its_commit(committed, dialect):
    client, engine, headers = committed
    etag = create(client, headers, "recheck-2", "NCT09995502")
    waiting = threading.Event()

    def signal(conn, cursor, statement, parameters, context, executemany):
        # SQLite: the request is about to take the write lock; PostgreSQL: about to lock
        # the row with its conditional UPDATE.
        if (statement.startswith("BEGIN") if dialect == "sqlite" else RECHECK in statement):
            waiting.set()

    holder_engine = make_engine(str(engine.url.render_as_string(hide_password=False)))
    holder = make_sessionmaker(holder_engine)()
    answers: list[Any] = []
    event.listen(engine, "before_cursor_execute", signal)
    try:
        begin_write(holder)
        holder.execute(text("UPDATE study SET version = version + 1, title = 'first writer' "
                            "WHERE key = 'recheck-2'"))
        thread = threading.Thread(target=lambda: answers.append(client.patch(
            f"{API}/studies/recheck-2", json={"title": "second writer"},
            headers={**headers, "If-Match": etag})))
        thread.start()
        assert waiting.wait(30), "the request reached the database"
        time.sleep(0.3)  # let the request block on the lock the first writer holds
        holder.commit()
        thread.join(60)
    finally:
        event.remove(engine, "before_cursor_execute", signal)
        holder.close()
        holder_engine.dispose()
    [response] = answers
    assert response.status_code == 412, response.text
    study = client.get(f"{API}/studies/recheck-2").json()
    assert (study["title"], study["version"]) == ("first writer", 2)
