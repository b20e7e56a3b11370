"""The audit trail: one entry per write, in the same transaction as the write, and what
reads it back (a record's history, and the record as it was at a given time)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import BadRequest, Gone, NotFound
from app.models import ApiKey, AuditEntry
from app.queries.pagination import Cursor, decode_cursor, encode_cursor
from app.types import utcnow


def jsonable(value: Any) -> Any:
    """Plain JSON values (dates as ISO strings, enums as their values)."""
    return None if value is None else orjson.loads(orjson.dumps(value))


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """Top-level keys whose value changed, with their old and new values."""
    before, after = before or {}, after or {}
    changed = {}
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            changed[key] = {"before": before.get(key), "after": after.get(key)}
    return changed


def record(session: Session, *, actor_id: int | None, action: str, entity: str,
           entity_key: str, version: int | None, before: dict[str, Any] | None,
           after: dict[str, Any] | None, reason: str | None = None) -> AuditEntry:
    before, after = jsonable(before), jsonable(after)
    entry = AuditEntry(at=utcnow(), actor_id=actor_id, action=action, entity=entity,
                       entity_key=entity_key, version=version,
                       changes=diff(before, after), snapshot=after, reason=reason)
    session.add(entry)
    return entry


def _actor(entry: Any) -> dict[str, Any] | None:
    if entry.actor_id is None:
        return None
    return {"id": entry.actor_id, "name": entry.actor_name}


def history(session: Session, entity: str, key: str, page_size: int,
            page_token: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """The audit entries of one record, oldest first: who changed what, when and why."""
    a = AuditEntry.__table__.c
    stmt = (select(a.id, a.at, a.action, a.version, a.actor_id, a.reason, a.changes,
                   ApiKey.name.label("actor_name"))
            .outerjoin(ApiKey, ApiKey.id == a.actor_id)
            .where(a.entity == entity, a.entity_key == key))
    cursor = decode_cursor(page_token, "history") if page_token else None
    if cursor is not None:
        if isinstance(cursor.value, bool) or not isinstance(cursor.value, int):
            raise BadRequest("page_token is not a token this API issued")
        stmt = stmt.where(a.id > cursor.value)
    rows = session.execute(stmt.order_by(a.id).limit(page_size + 1)).all()
    if not rows and cursor is None:
        raise NotFound(f"no {entity} {key!r} has any history")
    more = len(rows) > page_size
    rows = rows[:page_size]
    items = [{"id": r.id, "at": r.at, "action": r.action, "version": r.version,
              "actor": _actor(r), "reason": r.reason, "changes": r.changes} for r in rows]
    token = encode_cursor(Cursor("history", rows[-1].id, rows[-1].id)) if more else None
    return items, token


def as_of(session: Session, entity: str, key: str, when: dt.datetime) -> dict[str, Any]:
    """The record as the newest audit entry at or before `when` recorded it."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    a = AuditEntry.__table__.c
    entry = session.execute(
        select(a.snapshot, a.action, a.at)
        .where(a.entity == entity, a.entity_key == key, a.at <= when)
        .order_by(a.at.desc(), a.id.desc()).limit(1)).first()
    if entry is None:
        raise NotFound(f"{entity} {key!r} did not exist at {when.isoformat()}")
    if entry.snapshot is None:
        raise Gone(f"{entity} {key!r} had been deleted by {when.isoformat()}",
                   deleted_at=entry.at.isoformat())
    return entry.snapshot
