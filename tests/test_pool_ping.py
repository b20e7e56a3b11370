"""PostgreSQL connections are pinged at checkout only after being idle (app/db.py).

Each test kills the server process behind a pooled connection (pg_terminate_backend), as a
server restart does, and checks what the next checkout gets.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import exc, text
from sqlalchemy.engine import Engine

from app import db
from app.db import is_sqlite, make_engine


@pytest.fixture
def pool(database_url: str) -> Iterator[Engine]:
    if is_sqlite(database_url):
        pytest.skip("runs in the PostgreSQL pass only")
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _kill(database_url: str, pid: int) -> None:
    killer = make_engine(database_url)
    try:
        with killer.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    finally:
        killer.dispose()


def test_an_idle_connection_whose_server_went_away_is_replaced_unseen(pool, database_url,
                                                                       monkeypatch):
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)  # every checkout counts as idle
    dead = _backend_pid(pool)
    _kill(database_url, dead)
    assert _backend_pid(pool) != dead  # answered, on a new connection


def test_a_busy_connection_is_not_pinged_and_a_broken_one_is_replaced_after_one_failure(
        pool, database_url, monkeypatch):
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 3600.0)  # never idle long enough
    dead = _backend_pid(pool)
    _kill(database_url, dead)
    # No ping: the dead connection is handed out and the statement fails as a disconnect...
    with pytest.raises(exc.DBAPIError) as failure:
        _backend_pid(pool)
    assert failure.value.connection_invalidated
    # ...and the pool has replaced it for the next request.
    assert _backend_pid(pool) != dead
