"""Keyset pagination: an opaque cursor of (sort, last sort value, last id)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Select, tuple_

from app.errors import BadRequest

# Every id and every integer sort column is an INTEGER: a value outside its range is not one
# this API put in a token, and would overflow the database driver if it reached a query.
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
# Sorts whose value is the row id itself.
ID_SORTS = frozenset({"id", "history"})
NOT_ISSUED = "page_token is not a token this API issued"


@dataclass(frozen=True)
class Cursor:
    sort: str
    value: Any
    id: int


def encode_cursor(cursor: Cursor) -> str:
    raw = orjson.dumps([cursor.sort, cursor.value, cursor.id])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(token: str, sort: str) -> Cursor:
    try:
        padded = token + "=" * (-len(token) % 4)
        sort_name, value, last_id = orjson.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise BadRequest(NOT_ISSUED) from None
    if not (isinstance(sort_name, str) and _is_int(last_id) and 0 <= last_id <= INT_MAX
            and _plausible(value)) or (sort_name in ID_SORTS and not _is_int(value)):
        raise BadRequest(NOT_ISSUED)
    if sort_name != sort:
        raise BadRequest("page_token does not belong to this sort order; start again without it")
    return Cursor(sort_name, value, last_id)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _plausible(value: Any) -> bool:
    """A sort value a token of ours can hold: an integer in a column's range, or text."""
    if _is_int(value):
        return INT_MIN <= value <= INT_MAX
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
    if cursor is not None:
        after = tuple_(key, id_col)
        bound = tuple_(cursor.value, cursor.id)
        stmt = stmt.where(after < bound if descending else after > bound)
    if descending:
        stmt = stmt.order_by(key.desc(), id_col.desc())
    else:
        stmt = stmt.order_by(key.asc(), id_col.asc())
    return stmt.limit(limit + 1)
