"""Keyset pagination, for every paged list: an opaque cursor of (sort, last sort value, last
id), the ordered query that continues after it (fetching one row more than a page), and the
page cut from what it fetched (`Page`: items, the next page's token, an optional total).

Services build the statement with a query builder, pass it through `keyset` (or `by_id`),
execute it, and cut the page with `page_of`; nothing here touches a session."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson
from sqlalchemy import ColumnElement, Integer, Select, bindparam, tuple_

from app.errors import BadRequest

# Every id and every integer sort column is an INTEGER: a value outside its range is not one
# this API put in a token, and would overflow the database driver if it reached a query.
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
# Sorts whose value is the row id itself.
ID_SORTS = frozenset({"id", "history"})
NOT_ISSUED = "page_token is not a token this API issued"

T = TypeVar("T")


class InvalidPageToken(BadRequest):
    """A page token this API did not issue, or one issued for another sort order."""


@dataclass(frozen=True)
class Cursor:
    sort: str
    value: Any
    id: int


@dataclass
class Page(Generic[T]):
    """One page of a list: its items, the token of the next page (None on the last), the
    total when it was asked for, and any further top-level members of the answer."""

    items: list[T]
    next_page_token: str | None
    total_count: int | None = None
    extra: dict[str, Any] | None = None


def encode_cursor(cursor: Cursor) -> str:
    raw = orjson.dumps([cursor.sort, cursor.value, cursor.id])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(token: str, sort: str) -> Cursor:
    try:
        padded = token + "=" * (-len(token) % 4)
        sort_name, value, last_id = orjson.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise InvalidPageToken(NOT_ISSUED) from None
    if not (isinstance(sort_name, str) and _is_int(last_id) and 0 <= last_id <= INT_MAX
            and _plausible(value)) or (sort_name in ID_SORTS and not _is_int(value)):
        raise InvalidPageToken(NOT_ISSUED)
    if sort_name != sort:
        raise InvalidPageToken(
            "page_token does not belong to this sort order; start again without it")
    return Cursor(sort_name, value, last_id)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _plausible(value: Any) -> bool:
    """A sort value a token of ours can hold: an integer in a column's range, or text."""
    if _is_int(value):
        return bool(INT_MIN <= value <= INT_MAX)
    if isinstance(value, str):
        return _is_text(value)
    return value is None


def _is_text(value: str) -> bool:
    if "\x00" in value:
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def keyset(stmt: Select[Any], key: ColumnElement[Any], id_col: ColumnElement[Any],
           descending: bool, cursor: Cursor | None, limit: int) -> Select[Any]:
    """Order by (key, id) and continue after the cursor; fetches one row more than a page."""
    after = None if cursor is None else (cursor.value, cursor.id)
    return _keyset(stmt, key, id_col, descending, after, limit + 1)


# The bind parameters of `keyset_bound`.
AFTER_VALUE, AFTER_ID, LIMIT = "page_after_value", "page_after_id", "page_limit"


def keyset_bound(stmt: Select[Any], key: ColumnElement[Any], id_col: ColumnElement[Any],
                 descending: bool, after: bool) -> Select[Any]:
    """`keyset` whose cursor and limit are bind parameters, given at execution by
    `keyset_values`: one statement serves every page of its shape."""
    bound = ((bindparam(AFTER_VALUE, type_=key.type), bindparam(AFTER_ID, type_=id_col.type))
             if after else None)
    return _keyset(stmt, key, id_col, descending, bound, bindparam(LIMIT, type_=Integer()))


def keyset_values(cursor: Cursor | None, limit: int) -> dict[str, Any]:
    """The values of `keyset_bound`'s parameters for a page after `cursor`."""
    values: dict[str, Any] = {LIMIT: limit + 1}
    if cursor is not None:
        values[AFTER_VALUE], values[AFTER_ID] = cursor.value, cursor.id
    return values


def _keyset(stmt: Select[Any], key: ColumnElement[Any], id_col: ColumnElement[Any],
            descending: bool, after: tuple[Any, Any] | None, limit: Any) -> Select[Any]:
    if after is not None:
        row, bound = tuple_(key, id_col), tuple_(*after)
        stmt = stmt.where(row < bound if descending else row > bound)
    if descending:
        stmt = stmt.order_by(key.desc(), id_col.desc())
    else:
        stmt = stmt.order_by(key.asc(), id_col.asc())
    return stmt.limit(limit)


def by_id(stmt: Select[Any], id_col: ColumnElement[Any], token: str | None, limit: int,
          sort: str = "id") -> Select[Any]:
    """`keyset` for a list in id order, continuing after the row `token` names."""
    cursor = decode_cursor(token, sort) if token else None
    return keyset(stmt, id_col, id_col, False, cursor, limit)


def _row_id(row: Any) -> Any:
    return row.id


def page_of(rows: Sequence[Any], size: int, sort: str = "id",
            value: Callable[[Any], Any] = _row_id) -> tuple[list[Any], str | None]:
    """The page among the rows a keyset query fetched (at most one more than a page), and
    the token that continues after its last row (None when nothing follows). `value` is a
    row's sort value as the token holds it."""
    page = list(rows[:size])
    if len(rows) <= size:
        return page, None
    last = page[-1]
    return page, encode_cursor(Cursor(sort, value(last), last.id))
