"""The audit trail as SQL: a record's entries in order, and its newest entry at a time."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, func, select

from app.models import ApiKey, AuditEntry

# A select of any columns (the return type of every builder here).
AnySelect = Select[*tuple[Any, ...]]

_a = AuditEntry.__table__.c


def entries_select(entity: str, key: str) -> AnySelect:
    """Every audit entry of one record, with the name of the key that wrote it (unordered:
    pagination orders it by id)."""
    return (select(_a.id, _a.at, _a.action, _a.version, _a.actor_id, _a.reason, _a.changes,
                   ApiKey.name.label("actor_name"))
            .outerjoin(ApiKey, ApiKey.id == _a.actor_id)
            .where(_a.entity == entity, _a.entity_key == key))


def entry_id() -> Any:
    return _a.id


def as_of_select(entity: str, key: str, when: dt.datetime) -> AnySelect:
    """The newest audit entry of one record at or before `when`."""
    return (select(_a.snapshot, _a.action, _a.at)
            .where(_a.entity == entity, _a.entity_key == key, _a.at <= when)
            .order_by(_a.at.desc(), _a.id.desc()).limit(1))


def tally_select() -> AnySelect:
    """How many audit entries there are and the newest one's id: the data's version."""
    return select(func.count(_a.id), func.max(_a.id))
