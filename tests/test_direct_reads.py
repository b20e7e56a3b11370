"""Statements run on the driver (app.queries.direct, app.services.reads) give the rows
SQLAlchemy would give.

A study page reads its parts with statements run straight on the driver connection. Their
rows must hold the same values, of the same types, as the same statement executed by the
session: booleans as booleans, dates as dates, JSON decoded, floats to the last digit.
"""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest
from sqlalchemy import column, select, table, text
from sqlalchemy.exc import DBAPIError

from app.db import json_loads
from app.models import Study
from app.queries import direct
from app.queries import documents as q
from app.services import reads

STATEMENTS = {name: stmt for name, stmt in vars(q).items() if isinstance(stmt, direct.Direct)}


def _ids_value(dialect: str, ids: list[int]) -> object:
    return json.dumps(ids) if dialect == "sqlite" else ids


def _through_session(db_session, dialect: str, stmt: direct.Direct, ids: list[int]) -> list:
    return [tuple(row) for row in
            db_session.execute(stmt.stmt, {direct.IDS: _ids_value(dialect, ids)}).all()]


@pytest.mark.parametrize("name", sorted(STATEMENTS))
def test_each_statement_gives_the_values_and_types_the_session_gives(db_session, dialect,
                                                                     name):
    ids = list(db_session.scalars(select(Study.id).order_by(Study.id)))
    assert len(ids) >= 5
    stmt = STATEMENTS[name]
    expected = _through_session(db_session, dialect, stmt, ids)
    got = reads.rows(db_session, stmt, ids)
    assert expected, f"the seed gives {name} no rows: the comparison would prove nothing"
    assert [tuple(r) for r in got] == expected
    assert [[type(v) for v in r] for r in got] == [[type(v) for v in r] for r in expected]
    # Read by name, as SQLAlchemy's rows are.
    names = list(stmt.stmt.selected_columns.keys())
    assert all(getattr(got[0], n) == expected[0][i] for i, n in enumerate(names))


def test_the_seed_exercises_every_kind_of_converted_value(db_session):
    """The comparison above covers booleans, dates, JSON and floats only if the seed's rows
    hold them."""
    ids = list(db_session.scalars(select(Study.id)))
    kinds = set()
    for stmt in STATEMENTS.values():
        for row in reads.rows(db_session, stmt, ids):
            kinds.update(type(v) for v in row)
    assert {bool, dt.date, float, dict} <= kinds


def test_a_float_keeps_every_digit(db_session, dialect):
    """SQLite's JSON functions would print 15 digits; the driver's values keep all 17."""
    effect_id = db_session.scalar(text("SELECT min(id) FROM effect_estimate"))
    value = 2.0 / 3.0
    db_session.execute(text("UPDATE effect_estimate SET value = :v WHERE id = :id"),
                       {"v": value, "id": effect_id})
    study_id = db_session.scalar(text("SELECT study_id FROM effect_estimate WHERE id = :id"),
                                 {"id": effect_id})
    rows = reads.rows(db_session, q.EFFECTS, [study_id])
    assert [r.value for r in rows if r.id == effect_id] == [value]


def test_no_ids_reads_nothing_and_sends_nothing(db_session, count_statements):
    count_statements.statements.clear()
    assert reads.fetch(db_session, [], [q.ARMS, q.EFFECTS]) == {q.ARMS: [], q.EFFECTS: []}
    assert count_statements.statements == []


def test_the_statements_are_heard_by_the_connections_listeners(db_session, count_statements):
    ids = list(db_session.scalars(select(Study.id)))
    count_statements.statements.clear()
    reads.fetch(db_session, ids, [q.ARMS, q.TIMEPOINTS, q.ARMS])
    assert len(count_statements.statements) == 2
    assert all(s.lstrip().startswith("SELECT") for s in count_statements.statements)


def test_a_driver_error_is_raised_as_sqlalchemy_raises_it(db_session):
    """The HTTP layer answers SQLAlchemy's errors (a lost server is a 503): a driver's own
    error must not reach it unwrapped."""
    missing = table("no_such_table", column("study_id"))
    stmt = direct.Direct(select(missing.c.study_id).where(direct.in_ids(missing.c.study_id)))
    with pytest.raises(DBAPIError) as caught:
        reads.fetch(db_session, [1], [q.ARMS, stmt])
    assert "no_such_table" in str(caught.value.orig)


def test_json_columns_read_what_the_standard_library_reads(db_session, dialect):
    """JSON columns are decoded by orjson, and by the standard library for the texts orjson
    refuses (a NaN that an older write stored on SQLite)."""
    assert json_loads('{"a": [1, 2.5, "x"], "b": null}') == {"a": [1, 2.5, "x"], "b": None}
    assert math.isnan(json_loads('{"a": NaN}')["a"])
    assert json_loads(b"[18446744073709551616]") == [2**64]
    if dialect == "sqlite":
        effect_id = db_session.scalar(text("SELECT min(id) FROM effect_estimate"))
        db_session.execute(text("UPDATE effect_estimate SET inputs = :v WHERE id = :id"),
                           {"v": '{"n": NaN}', "id": effect_id})
        study_id = db_session.scalar(
            text("SELECT study_id FROM effect_estimate WHERE id = :id"), {"id": effect_id})
        (row,) = [r for r in reads.rows(db_session, q.EFFECTS, [study_id]) if r.id == effect_id]
        assert math.isnan(row.inputs["n"])


def test_statements_on_different_columns_are_different_statements_to_sqlalchemy():
    """SQLAlchemy caches compiled statements by key: `a IN ids` and `b IN ids` must differ."""
    t = table("t", column("a"), column("b"))
    on_a = select(t.c.a).where(direct.in_ids(t.c.a))
    assert on_a._generate_cache_key() != select(t.c.a).where(
        direct.in_ids(t.c.b))._generate_cache_key()
    assert on_a._generate_cache_key() == select(t.c.a).where(
        direct.in_ids(t.c.a))._generate_cache_key()
