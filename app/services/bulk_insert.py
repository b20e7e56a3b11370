"""A planned bulk batch into the database, fast: rows as tuples straight to the driver (COPY on
PostgreSQL, executemany on SQLite), sequences after, and planner statistics after a load.

On PostgreSQL a foreign key is checked by a trigger per inserted row, each one a query of its
own: at registry scale those checks cost more than the COPY itself. A bulk batch can have them
done set-wise instead (`deferred_reference_checks`): the row triggers are off for the insert
only, and then one look-up per referred table finds whether every row the batch's rows refer
to is stored. The batch holds its tables locked (no row can be deleted meanwhile), so the
answer is the one the row triggers would have given; a dangling reference fails the batch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Table, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.types import UTCDateTime


class DanglingReference(Exception):
    """A planned row refers to a row that does not exist."""


def _converters(table: Table, dialect: Any) -> dict[str, Any]:
    """Column name -> converter, for the few columns that need one. Plain values go to the
    driver as they are: enumeration members are `str` already, booleans and dates the drivers
    adapt themselves; only JSON and timestamps need the column type's own conversion."""
    return {column.name: column.type._cached_bind_processor(dialect)  # noqa: SLF001
            for column in table.columns if isinstance(column.type, JSON | UTCDateTime)}


def tuples(table: Table, rows: list[dict[str, Any]], dialect: Any) -> list[tuple[Any, ...]]:
    """The rows as tuples in column order, built by `itemgetter` (C speed); a column a row
    leaves out is NULL. A batch shares one timestamp, so each distinct timestamp is converted
    once."""
    names = [column.name for column in table.columns]
    memo: dict[Any, Any] = {}
    for name, convert in _converters(table, dialect).items():
        for row in rows:
            value = row.get(name)
            if value is None:  # an absent document stays SQL NULL, not JSON null
                continue
            if isinstance(value, dt.datetime):
                if value not in memo:
                    memo[value] = convert(value)
                row[name] = memo[value]
            else:
                row[name] = convert(value)
    getter = itemgetter(*names)
    try:
        return [getter(row) for row in rows]
    except KeyError:  # a row leaves a column out (a reported effect its inputs)
        blank = dict.fromkeys(names)
        return [getter({**blank, **row}) for row in rows]


def insert(conn: Any, table: Table, rows: list[dict[str, Any]]) -> None:
    """Many rows at once, straight to the driver: the per-row parameter handling of a
    compiled statement costs more than the insert itself."""
    dialect = conn.dialect
    params = tuples(table, rows, dialect)
    quoted = ", ".join(dialect.identifier_preparer.quote(c.name) for c in table.columns)
    target = f"{dialect.identifier_preparer.quote(table.name)} ({quoted})"
    cursor = conn.connection.driver_connection.cursor()
    try:
        if dialect.name == "postgresql":
            with cursor.copy(f"COPY {target} FROM STDIN") as copy:
                for row in params:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(table.columns))
            cursor.executemany(f"INSERT INTO {target} VALUES ({marks})", params)
    finally:
        cursor.close()


def _row_triggers_off(session: Session) -> bool:
    """Turn this transaction's row triggers (the foreign-key checks) off, where the role may:
    a superuser, or one granted SET on session_replication_role."""
    try:
        with session.begin_nested():
            session.execute(text("SET LOCAL session_replication_role = replica"))
    except DBAPIError:
        return False
    return True


def _referred(planned: list[dict[str, Any]], column: str) -> set[Any]:
    try:
        return {row[column] for row in planned}
    except KeyError:  # a row leaves the column out
        return {row.get(column) for row in planned}


def _check_references(session: Session, tables: list[Table],
                      rows: dict[str, list[dict[str, Any]]]) -> None:
    """Every row that the planned rows refer to is stored: a row of the batch itself (the
    COPY stored every planned row or failed), or else one found by primary key, with one
    look-up per referred table."""
    wanted: dict[tuple[str, str], set[Any]] = {}
    for table in tables:
        planned = rows.get(table.name)
        for fk in table.foreign_key_constraints if planned else ():
            (column, parent), = zip(fk.column_keys, fk.elements, strict=True)
            wanted.setdefault((parent.column.table.name, parent.column.name), set()).update(
                _referred(planned, column))  # type: ignore[arg-type]
    locked = {table.name for table in tables}
    for (name, key), ids in wanted.items():
        ids.discard(None)
        ids.difference_update(row.get(key) for row in rows.get(name, ()))
        if not ids:
            continue
        # A referred row outside the locked tables (an API key) is kept as the trigger keeps
        # it: locked against deletion until the batch commits.
        share = "" if name in locked else " FOR KEY SHARE"
        stored = set(session.scalars(
            text(f"SELECT {key} FROM {name} WHERE {key} = ANY(:ids){share}"),
            {"ids": list(ids)}))
        if ids - stored:
            raise DanglingReference(f"a planned row refers to {name}.{key} "
                                    f"{min(ids - stored)}, which is not stored")


@contextmanager
def deferred_reference_checks(session: Session, tables: list[Table],
                              rows: dict[str, list[dict[str, Any]]]) -> Iterator[None]:
    """On PostgreSQL, the foreign keys of the planned `rows` (table name -> rows) inserted
    inside the block are checked at its end, once per referred table, not per row by
    triggers; elsewhere, or when the role may not turn triggers off, the block runs as is."""
    if session.get_bind().dialect.name != "postgresql" or not _row_triggers_off(session):
        yield
        return
    yield
    session.execute(text("SET LOCAL session_replication_role = origin"))
    _check_references(session, tables, rows)


def fix_sequences(session: Session, tables: list[Table]) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in tables:
        session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
            f"COALESCE((SELECT max(id) FROM {table.name}), 1))"))
