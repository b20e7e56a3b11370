"""The SQL of registry-versus-publication flags: the studies that have registry data or that
raise a stored flag (in id order, after a keyset position, narrowed by study key, registry id
or flag type), the stored flags of studies, and the explanations curators wrote."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Delete, Select, delete, exists, select

from app.enums import FlagType
from app.models import ApiKey, FlagExplanation, Provenance, RegistryId, Study, StudyFlag

_s, _p = Study.__table__.c, Provenance.__table__.c
_x, _k, _r = FlagExplanation.__table__.c, ApiKey.__table__.c, RegistryId.__table__.c
_f = StudyFlag.__table__.c


def with_registry_data(study_ids: list[int], after_id: int, limit: int) -> Select[Any]:
    """Studies whose flags the rules compute: those with any number or fact sourced to a
    registry record (every imported study, and curated studies with registry-sourced numbers),
    among `study_ids` (all when empty), id ≥ `after_id`, in id order. Deleted ones too: their
    flags stay stored, as their other rows do."""
    stmt = (select(Study.__table__)
            .where(_s.id >= after_id,
                   exists().where(_p.study_id == _s.id, _p.registry_record.is_not(None))))
    if study_ids:
        stmt = stmt.where(_s.id.in_(study_ids))
    return stmt.order_by(_s.id).limit(limit)


def flagged(keys: list[str], registry_ids: list[str], types: list[FlagType], after_id: int,
            limit: int) -> Select[Any]:
    """Live studies that raise a stored flag (of one of `types`, any when empty), id ≥
    `after_id`, in id order."""
    raised = exists().where(_f.study_id == _s.id)
    if types:
        raised = raised.where(_f.flag_type.in_(types))
    stmt = select(Study.__table__).where(_s.deleted_at.is_(None), _s.id >= after_id, raised)
    if keys:
        stmt = stmt.where(_s.key.in_(keys))
    if registry_ids:
        stmt = stmt.where(exists().where(_r.study_id == _s.id, _r.identifier.in_(registry_ids)))
    return stmt.order_by(_s.id).limit(limit)


def forget(study_ids: list[int] | None) -> Delete:
    """The stored flags of these studies (of all when None), removed before they are stored
    again."""
    stmt = delete(StudyFlag)
    return stmt if study_ids is None else stmt.where(_f.study_id.in_(study_ids))


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
