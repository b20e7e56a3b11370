"""SELECTs behind the vocabulary, publication, regulatory-event and timeline lists."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select

from app.models import (
    ArmIntervention,
    Condition,
    ConditionAlias,
    Intervention,
    InterventionAlias,
    Publication,
    RegulatoryEvent,
    Study,
    StudyCondition,
    StudyPublication,
    Timepoint,
)
from app.queries.studies import study_ids_select
from app.schemas.catalog import (
    PublicationParams,
    RegulatoryEventParams,
    TimepointParams,
    VocabularyParams,
)


def _fold(name: str) -> str:
    return " ".join(name.split()).casefold()


def _live_study_ids() -> Select[Any]:
    return select(Study.id).where(Study.deleted_at.is_(None))


def intervention_select(p: VocabularyParams) -> Select[Any]:
    count = (select(func.count(func.distinct(ArmIntervention.study_id)))
             .where(ArmIntervention.intervention_id == Intervention.id,
                    ArmIntervention.study_id.in_(_live_study_ids()))
             .scalar_subquery())
    stmt = select(Intervention.id, Intervention.name, Intervention.type,
                  Intervention.description, Intervention.synonyms,
                  count.label("study_count"))
    if p.name:
        stmt = stmt.where(Intervention.id.in_(
            select(InterventionAlias.intervention_id)
            .where(InterventionAlias.alias == _fold(p.name))))
    return stmt


def condition_select(p: VocabularyParams) -> Select[Any]:
    count = (select(func.count())
             .where(StudyCondition.condition_id == Condition.id,
                    StudyCondition.study_id.in_(_live_study_ids()))
             .scalar_subquery())
    stmt = select(Condition.id, Condition.name, Condition.mesh_term, Condition.synonyms,
                  count.label("study_count"))
    if p.name:
        stmt = stmt.where(Condition.id.in_(
            select(ConditionAlias.condition_id).where(ConditionAlias.alias == _fold(p.name))))
    return stmt


def publication_select(p: PublicationParams) -> Select[Any]:
    stmt = select(Publication.__table__)
    if p.retraction_status:
        stmt = stmt.where(Publication.retraction_status.in_(p.retraction_status))
    if p.study:
        stmt = stmt.where(Publication.id.in_(
            select(StudyPublication.publication_id).join(Study)
            .where(Study.key.in_(p.study), Study.deleted_at.is_(None))))
    if p.doi:
        stmt = stmt.where(func.lower(Publication.doi) == p.doi.lower())
    if p.pmid:
        stmt = stmt.where(Publication.pmid == p.pmid)
    return stmt


def publication_studies_select(publication_ids: list[int]) -> Select[*tuple[Any, ...]]:
    return (select(StudyPublication.publication_id, StudyPublication.role, Study.key)
            .join(Study).where(StudyPublication.publication_id.in_(publication_ids),
                               Study.deleted_at.is_(None))
            .order_by(StudyPublication.publication_id, Study.key))


def regulatory_event_select(p: RegulatoryEventParams) -> Select[Any]:
    stmt = (select(RegulatoryEvent.__table__,
                   Intervention.name.label("intervention_name"),
                   Condition.name.label("condition_name"))
            .outerjoin(Intervention, Intervention.id == RegulatoryEvent.intervention_id)
            .outerjoin(Condition, Condition.id == RegulatoryEvent.condition_id))
    if p.agency:
        stmt = stmt.where(func.upper(RegulatoryEvent.agency).in_([a.upper() for a in p.agency]))
    if p.event_type:
        stmt = stmt.where(RegulatoryEvent.event_type.in_(p.event_type))
    if p.intervention:
        stmt = stmt.where(RegulatoryEvent.intervention_id.in_(
            select(InterventionAlias.intervention_id)
            .where(InterventionAlias.alias.in_([_fold(n) for n in p.intervention]))))
    if p.condition:
        stmt = stmt.where(RegulatoryEvent.condition_id.in_(
            select(ConditionAlias.condition_id)
            .where(ConditionAlias.alias.in_([_fold(n) for n in p.condition]))))
    return stmt


def timepoint_select(p: TimepointParams, dialect: str) -> Select[Any]:
    stmt = (select(Timepoint.__table__, Study.key.label("study_key"),
                   Study.title.label("study_title"))
            .join(Study, Study.id == Timepoint.study_id)
            .where(Timepoint.study_id.in_(study_ids_select(p, dialect))))
    if p.is_follow_up is not None:
        stmt = stmt.where(Timepoint.is_follow_up == p.is_follow_up)
    return stmt


def study_keys() -> Select[Any]:
    """The key of every stored study, deleted or not."""
    return select(Study.key)


def regulatory_event_keys() -> Select[Any]:
    """The key of every stored regulatory event."""
    return select(RegulatoryEvent.key)
