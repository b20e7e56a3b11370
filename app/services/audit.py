"""The audit trail: one entry per write, in the same transaction as the write, and what
reads it back (a record's history, and the record as it was at a given time)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from sqlalchemy.orm import Session

from app.errors import Gone, NotFound
from app.models import AuditEntry
from app.queries import history as q
from app.queries import pagination
from app.queries.pagination import Page
from app.services import feed
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
    feed.note(session, entry)
    return entry


def _actor(entry: Any) -> dict[str, Any] | None:
    if entry.actor_id is None:
        return None
    return {"id": entry.actor_id, "name": entry.actor_name}


def history(session: Session, entity: str, key: str, page_size: int,
            page_token: str | None) -> Page[dict[str, Any]]:
    """The audit entries of one record, oldest first: who changed what, when and why."""
    stmt = pagination.by_id(q.entries_select(entity, key), q.entry_id(), page_token,
                            page_size, sort="history")
    rows, token = pagination.page_of(session.execute(stmt).all(), page_size, "history")
    if not rows and page_token is None:
        raise NotFound(f"no {entity} {key!r} has any history")
    items = [{"id": r.id, "at": r.at, "action": r.action, "version": r.version,
              "actor": _actor(r), "reason": r.reason, "changes": r.changes} for r in rows]
    return Page(items, token)


def as_of(session: Session, entity: str, key: str, when: dt.datetime) -> dict[str, Any]:
    """The record as the newest audit entry at or before `when` recorded it."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    entry = session.execute(q.as_of_select(entity, key, when)).first()
    if entry is None:
        raise NotFound(f"{entity} {key!r} did not exist at {when.isoformat()}")
    if entry.snapshot is None:
        raise Gone(f"{entity} {key!r} had been deleted by {when.isoformat()}",
                   deleted_at=entry.at.isoformat())
    snapshot: dict[str, Any] = entry.snapshot
    return snapshot
