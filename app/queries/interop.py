"""Selects behind the familiar dialects that the study filter does not cover."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select

from app.enums import Origin
from app.models import EffectEstimate, RegistryId, Study


def study_by_nct(nct: str) -> Select[Any]:
    """The study row an NCT id names, by registry id, else by key."""
    s = Study.__table__
    by_registry = select(RegistryId.study_id).where(
        RegistryId.registry_name == "NCT", RegistryId.identifier == nct)
    return select(s).where((s.c.id.in_(by_registry)) | (s.c.key == nct)).order_by(s.c.id)


def data_timestamp() -> Select[Any]:
    """When the studies last changed: the newest update, creation or deletion."""
    s = Study.__table__.c
    return select(func.max(func.coalesce(s.updated_at, s.created_at)))


def studies_by(column: str, values: list[Any]) -> Select[Any]:
    s = Study.__table__
    return select(s).where(s.c[column].in_(values))


def effect_ids(study_ids: list[int]) -> Select[Any]:
    """Reported effect ids in the order documents list a study's `effects`."""
    e = EffectEstimate.__table__.c
    return (select(e.id, e.study_id)
            .where(e.study_id.in_(study_ids), e.origin == Origin.REPORTED)
            .order_by(e.outcome_measure_id, e.position, e.id))


def evidence_page(study_keys: list[str], ids: list[int], after: int | None,
                  limit: int) -> Select[Any]:
    """Reported effect estimates of live studies by id, one keyset page (plus one row);
    the effects we compute are served by /outcomes, not as source Evidence."""
    e, s = EffectEstimate.__table__.c, Study.__table__.c
    stmt = (select(e.id, e.study_id).join(Study.__table__, s.id == e.study_id)
            .where(s.deleted_at.is_(None), e.origin == Origin.REPORTED))
    if study_keys:
        stmt = stmt.where(s.key.in_(study_keys))
    if ids:
        stmt = stmt.where(e.id.in_(ids))
    if after is not None:
        stmt = stmt.where(e.id > after)
    return stmt.order_by(e.id).limit(limit + 1)


def evidence_count(study_keys: list[str], ids: list[int]) -> Select[Any]:
    inner = evidence_page(study_keys, ids, None, 0).limit(None).order_by(None).subquery()
    return select(func.count()).select_from(inner)
