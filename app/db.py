"""Declarative base, engine factory and the per-request session dependency."""

from __future__ import annotations

import json
import time
from typing import Any, cast

import orjson
from sqlalchemy import MetaData, create_engine, event, exc
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def json_loads(text: str | bytes) -> Any:
    """JSON columns as read: orjson (several times faster than the standard library on the
    documents a page reads), or the standard library for what orjson refuses (NaN, integers
    past 64 bits), which is what the column would have held when written."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def make_engine(url: str, *, pool_size: int = 5, max_overflow: int = 5,
                pool_timeout: float = 5.0, busy_timeout_ms: int = 5000,
                connect_timeout: int = 2, echo: bool = False) -> Engine:
    """An engine for SQLite (WAL, foreign keys, busy timeout) or PostgreSQL (pinged pool).

    On PostgreSQL a connection idle for more than a second is pinged when it is checked out
    (a restarted server's dead connections are replaced, not handed out; see `_ping_if_idle`)
    and connecting gives up after `connect_timeout` seconds, so while the server is away
    requests fail fast with 503 instead of hanging.
    """
    # Bound values never appear in error messages (and so in logs): they may hold a key.
    kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": not echo,
                              "json_deserializer": json_loads}
    if is_sqlite(url):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": busy_timeout_ms / 1000}
    else:
        kwargs.update(pool_size=pool_size, max_overflow=max_overflow, pool_timeout=pool_timeout,
                      connect_args={"connect_timeout": max(int(connect_timeout), 1)})
    engine = create_engine(url, **kwargs)
    if is_sqlite(url):
        _configure_sqlite(engine, busy_timeout_ms)
    else:
        _ping_if_idle(engine)
    return engine


PING_AFTER_IDLE_S = 1.0
_LAST_USED = "evidencedb_last_used"


def _ping_if_idle(engine: Engine) -> None:
    """Ping a connection at checkout only when it has been idle for a while: a server that went
    away is found before a request uses it, while a busy pool spends no round trip on it. A
    connection that breaks in use fails that request (503) and SQLAlchemy then replaces every
    connection of the pool, as a failed ping does."""

    @event.listens_for(engine, "connect")
    def _connected(_dbapi_conn: Any, record: Any) -> None:
        record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get(_LAST_USED, 0.0) < PING_AFTER_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as error:
            raise exc.InvalidatePoolError() from error


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # pysqlite's own transaction handling breaks SAVEPOINT; we emit BEGIN ourselves.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(WRITE_OPTION)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


WRITE_OPTION = "evidencedb_write"


def writer(engine: Engine) -> Engine:
    """The engine for sessions that write. On SQLite their transactions begin IMMEDIATE: they
    take the write lock first (waiting up to the busy timeout for another writer) instead of
    reading a snapshot that another writer's commit makes stale, which SQLite refuses at once
    with "database is locked" whatever the timeout. The same engine elsewhere."""
    if is_sqlite(str(engine.url)):
        return engine.execution_options(**{WRITE_OPTION: True})
    return engine


def begin_write(session: Session) -> None:
    """Start a write transaction on whatever engine the session has (the command line's too):
    on SQLite it takes the write lock first, as `writer` does for request sessions."""
    if session.in_transaction():
        session.commit()
    # A project-defined option: SQLAlchemy types execution options as a closed TypedDict.
    session.connection(execution_options=cast(Any, {WRITE_OPTION: True}))


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)
