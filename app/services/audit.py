"""The audit trail: one entry per write, in the same transaction as the write."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy.orm import Session

from app.models import AuditEntry
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
