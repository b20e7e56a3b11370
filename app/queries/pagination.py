"""Keyset pagination: an opaque cursor of (sort, last sort value, last id)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Select, tuple_

from app.errors import BadRequest


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
        raise BadRequest("page_token is not a token this API issued") from None
    if sort_name != sort or not isinstance(last_id, int) or isinstance(value, (dict, list)):
        raise BadRequest("page_token does not belong to this sort order; start again without it")
    return Cursor(sort_name, value, last_id)


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
