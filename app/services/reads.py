"""Reading rows with the driver-level statements of app.queries.direct."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from app.queries.direct import Compiled, Direct


def rows(session: Session, stmt: Direct, ids: list[int]) -> list[Any]:
    """The rows of one statement for these ids."""
    return fetch(session, ids, [stmt])[stmt]


def fetch(session: Session, ids: list[int], statements: Iterable[Direct]
          ) -> dict[Direct, list[Any]]:
    """The rows of each statement for the same ids. On PostgreSQL they are sent together in
    one pipeline: one round trip to the server, not one per statement."""
    wanted = list(dict.fromkeys(statements))
    if not ids:
        return {stmt: [] for stmt in wanted}
    conn = session.connection()
    driver: Any = conn.connection.driver_connection
    compiled = [stmt.compiled(conn.dialect) for stmt in wanted]
    cursors = [driver.cursor() for _ in compiled]
    # Listeners of the connection's statements (a statement counter, a query log) hear
    # these too, as for any statement SQLAlchemy runs.
    heard = conn._has_events or conn.engine._has_events  # noqa: SLF001

    def send(plan: Compiled, cursor: Any) -> None:
        params = plan.params(ids)
        if heard:
            conn.dispatch.before_cursor_execute(conn, cursor, plan.sql, params, None, False)
        cursor.execute(plan.sql, params)

    try:
        if conn.dialect.name == "postgresql":
            with driver.pipeline():
                for plan, cursor in zip(compiled, cursors, strict=True):
                    send(plan, cursor)
            return {stmt: plan.rows(cursor.fetchall(), cursor.description)
                    for stmt, plan, cursor in zip(wanted, compiled, cursors, strict=True)}
        out = {}
        for stmt, plan, cursor in zip(wanted, compiled, cursors, strict=True):
            send(plan, cursor)
            out[stmt] = plan.rows(cursor.fetchall(), cursor.description)
        return out
    except conn.dialect.loaded_dbapi.Error as exc:
        # Raised as SQLAlchemy raises a driver's error: wrapped (a lost server is an
        # OperationalError, answered 503) and, when the connection is gone, with the
        # connection invalidated so that the pool replaces it.
        conn._handle_dbapi_exception(exc, compiled[0].sql, None, None, None)  # noqa: SLF001
        raise
    finally:
        for cursor in cursors:
            cursor.close()
