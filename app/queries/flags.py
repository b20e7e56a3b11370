"""The SQL of registry-versus-publication flags: the studies that have registry data (in id
order, after a keyset position, narrowed by study key or registry id), a study's stored
record, and the explanations curators wrote."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, exists, select

from app.models import ApiKey, FlagExplanation, Provenance, RegistryId, Study

_s, _p = Study.__table__.c, Provenance.__table__.c
_x, _k, _r = FlagExplanation.__table__.c, ApiKey.__table__.c, RegistryId.__table__.c


def candidates(keys: list[str], registry_ids: list[str], after_id: int, limit: int
               ) -> Select[Any]:
    """Live studies with any number or fact sourced to a registry record (every imported
    study, and curated studies with registry-sourced numbers), id ≥ `after_id`, in id
    order."""
    stmt = (select(Study.__table__)
            .where(_s.deleted_at.is_(None), _s.id >= after_id,
                   exists().where(_p.study_id == _s.id, _p.registry_record.is_not(None))))
    if keys:
        stmt = stmt.where(_s.key.in_(keys))
    if registry_ids:
        stmt = stmt.where(exists().where(_r.study_id == _s.id, _r.identifier.in_(registry_ids)))
    return stmt.order_by(_s.id).limit(limit)


def study_record(key: str) -> Select[Any]:
    """A study's id and stored registry record."""
    return select(_s.id, _s.source_record).where(_s.key == key)


def explanations(study_ids: list[int]) -> Select[Any]:
    """The explanations of these studies' flags, with the name of the key that wrote each."""
    return (select(FlagExplanation.__table__, _k.name.label("explainer_name"))
            .join(ApiKey.__table__, _k.id == _x.explained_by)
            .where(_x.study_id.in_(study_ids)))


def explanation(study_id: int, flag_id: str) -> Select[Any]:
    """One flag's explanation, with the name of the key that wrote it."""
    return explanations([study_id]).where(_x.flag_id == flag_id)
