"""The SQL of evidence profiles: one profile (locked for a write), the filtered list, and the
delete; each with the name of the key that created it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Delete, Select, delete, select

from app.enums import Certainty
from app.models import ApiKey, EvidenceProfile

_p, _k = EvidenceProfile.__table__.c, ApiKey.__table__.c


def _with_creator() -> Select[Any]:
    return (select(EvidenceProfile.__table__, _k.name.label("creator_name"))
            .outerjoin(ApiKey.__table__, _k.id == _p.created_by))


def profile(profile_id: int, *, lock: bool = False) -> Select[Any]:
    """One profile; `lock` holds its row until the write commits (PostgreSQL; a SQLite
    writer holds the database)."""
    stmt = _with_creator().where(_p.id == profile_id)
    return stmt.with_for_update(of=EvidenceProfile.__table__) if lock else stmt


def profiles(certainty: list[Certainty]) -> Select[Any]:
    """Every profile, or those of the given certainties (page with pagination.by_id)."""
    stmt = _with_creator()
    return stmt.where(_p.certainty.in_(certainty)) if certainty else stmt


def profile_id() -> Any:
    return _p.id


def remove(profile_id: int) -> Delete:
    return delete(EvidenceProfile).where(EvidenceProfile.id == profile_id)
