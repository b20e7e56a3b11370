"""Constant read statements for the database driver itself (run by app.services.reads).

A study page reads a dozen small statements (one per table, `study_id IN` the page's ids).
For statements that small, SQLAlchemy's per-execution work (cache key, expanding the IN list,
parameter and result set-up) costs several times what the database spends on them. A `Direct`
statement is compiled once per dialect, with the ids bound as one value (a JSON array on SQLite,
an array on PostgreSQL: the same SQL text for any page), run on the session's own driver
connection (so in its transaction), and its rows come back as named tuples after the column
types' own result conversions: the values are those `session.execute` would give.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable
from functools import partial
from typing import Any

import orjson
from sqlalchemy import BindParameter, Boolean, ColumnElement, Select, bindparam
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal

IDS = "ids"


class InIds(ColumnElement[bool]):
    """`column IN` the statement's id list, bound once as a whole."""

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a condition as it stands (SQLite would add "= 1")
    # What SQLAlchemy's statement cache keys on: without the column, `a IN ids` and
    # `b IN ids` would share a compiled form.
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement),
                           ("ids", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: ColumnElement[Any]) -> None:
        self.column = column
        self.ids: BindParameter[Any] = bindparam(IDS)


@compiles(InIds, "sqlite")
def _in_ids_sqlite(element: InIds, compiler: SQLCompiler, **kw: Any) -> str:
    return (f"{compiler.process(element.column, **kw)} IN "
            f"(SELECT value FROM json_each({compiler.process(element.ids, **kw)}))")


@compiles(InIds, "postgresql")
def _in_ids_postgresql(element: InIds, compiler: SQLCompiler, **kw: Any) -> str:
    # As BIGINT[] whatever the driver would infer: the column's index serves int = ANY(int8[]).
    return (f"{compiler.process(element.column, **kw)} = "
            f"ANY(CAST({compiler.process(element.ids, **kw)} AS BIGINT[]))")


def in_ids(column: ColumnElement[Any]) -> InIds:
    return InIds(column)


def _row_maker(names: list[str]) -> Any:
    """Rows read by name (`row.label`) as SQLAlchemy's rows are, at a tuple's cost: made
    from a driver row by `tuple.__new__` itself (the driver's rows are whole)."""
    return partial(tuple.__new__, namedtuple("Row", names))  # noqa: PYI024


class Compiled:
    def __init__(self, stmt: Select[Any], dialect: Any) -> None:
        compiled = stmt.compile(dialect=dialect)
        self.sql = compiled.string
        self.positional = bool(compiled.positional)
        self.sqlite = dialect.name == "sqlite"
        self.dialect = dialect
        self.types = [column.type for column in stmt.selected_columns]
        self.make = _row_maker(list(stmt.selected_columns.keys()))
        self.convert: list[tuple[int, Callable[[Any], Any]]] | None = None

    def converters(self, description: Any) -> list[tuple[int, Callable[[Any], Any]]]:
        """The columns' result conversions, given the driver's column types (some of
        PostgreSQL's depend on them), found at the first execution."""
        if self.convert is None:
            self.convert = [
                (i, processor) for i, (type_, column) in enumerate(zip(self.types, description,
                                                                       strict=True))
                if (processor := type_._cached_result_processor(  # noqa: SLF001
                    self.dialect, column[1])) is not None]
        return self.convert

    def params(self, ids: list[int]) -> Any:
        value: Any = orjson.dumps(ids).decode() if self.sqlite else list(ids)
        return (value,) if self.positional else {IDS: value}

    def rows(self, raw: list[Any], description: Any) -> list[Any]:
        make = self.make
        convert = self.converters(description)
        if not convert:
            return [make(r) for r in raw]
        out = []
        for r in raw:
            values = list(r)
            for i, change in convert:
                values[i] = change(values[i])
            out.append(make(values))
        return out


class Direct:
    """A read statement that binds only the id list `in_ids` names (see the module)."""

    def __init__(self, stmt: Select[Any]) -> None:
        self.stmt = stmt
        self._compiled: dict[str, Compiled] = {}
        names = list(stmt.selected_columns.keys())
        if len(set(names)) != len(names):
            raise ValueError(f"columns with the same name: {names}")

    def compiled(self, dialect: Any) -> Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = Compiled(self.stmt, dialect)
        return compiled
