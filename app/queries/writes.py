"""The SQL of the writes: who holds a key or registry id (one study or a bulk batch), the
publications an entry names, the atomic version check, removing a study's parts before it is
written again, the studies a retraction touches, and a stored idempotent answer."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Delete, Select, Table, Update, delete, func, select, update

from app.models import (
    ApiKey,
    Arm,
    ArmIntervention,
    EffectEstimate,
    IdempotencyRecord,
    OutcomeMeasure,
    OutcomeResult,
    Provenance,
    Publication,
    RegistryId,
    Study,
    StudyCondition,
    StudyCountry,
    StudyKeyword,
    StudyPublication,
    StudyRelation,
    Timepoint,
)

# A select of any columns (the return type of every builder here).
AnySelect = Select[*tuple[Any, ...]]

_STUDY = cast(Table, Study.__table__)
_s = _STUDY.c


def key_holder(key: str) -> AnySelect:
    """The study (deleted or not) that holds a key."""
    return select(Study.key, Study.id, Study.deleted_at).where(Study.key == key)


def registry_id_holder(registry: str, identifier: str) -> AnySelect:
    """The study that holds a registry id."""
    return (select(Study.key, Study.id).join(RegistryId)
            .where(RegistryId.registry_name == registry, RegistryId.identifier == identifier))


def publication_by(column: str, value: Any) -> AnySelect:
    """The stored publication with a DOI or PMID (`column`)."""
    return select(Publication).where(getattr(Publication, column) == value)


def publication_links(study_id: int) -> AnySelect:
    """The publications a study cites, by the refs its document gives them."""
    return (select(StudyPublication.ref, StudyPublication.publication_id)
            .where(StudyPublication.study_id == study_id))


def claim_version(study_id: int, version: int) -> Update:
    """Lock a live study's row if it is still at `version` (one row updated), else nothing."""
    return (update(_STUDY)
            .where(_s.id == study_id, _s.version == version, _s.deleted_at.is_(None))
            .values(version=_s.version))


def remove_parts(study_id: int) -> list[Delete]:
    """Statements removing every part of a study (in this order), leaving the study row."""
    measures = select(OutcomeMeasure.id).where(OutcomeMeasure.study_id == study_id)
    return [delete(Provenance).where(Provenance.study_id == study_id),
            delete(EffectEstimate).where(EffectEstimate.study_id == study_id),
            delete(OutcomeResult).where(OutcomeResult.outcome_measure_id.in_(measures)),
            *(delete(model).where(model.study_id == study_id)
              for model in (OutcomeMeasure, Timepoint, ArmIntervention, Arm, StudyCondition,
                            StudyKeyword, StudyCountry, RegistryId, StudyRelation,
                            StudyPublication))]


def citing_studies(publication_id: int) -> AnySelect:
    """The ids of the studies that cite a publication, in id order."""
    return (select(StudyPublication.study_id)
            .where(StudyPublication.publication_id == publication_id)
            .order_by(StudyPublication.study_id))


def studies_by_id(ids: list[int]) -> AnySelect:
    """The study rows with these ids, in id order."""
    return select(Study.__table__).where(_s.id.in_(ids)).order_by(_s.id)


def lock_studies(ids: list[int]) -> Update:
    """Take the row locks of these studies, as their own writers do, changing nothing."""
    return update(_STUDY).where(_s.id.in_(ids)).values(version=_s.version)


def next_versions(ids: list[int], now: Any) -> Update:
    """Move these studies to their next version, changed at `now`."""
    return (update(_STUDY).where(_s.id.in_(ids))
            .values(version=_s.version + 1, updated_at=now))


def top_id(table: Any) -> AnySelect:
    """The largest id a table holds (NULL when empty)."""
    return select(func.max(table.c.id))


def publications_with(column: str, values: Iterable[Any]) -> AnySelect:
    """The stored publications whose DOI or PMID (`column`) is one of `values`."""
    t = Publication.__table__
    return select(t).where(t.c[column].in_(list(values)))


def keys_taken(keys: Iterable[str]) -> AnySelect:
    """Which of these keys a stored study (deleted or not) holds."""
    return select(Study.key).where(Study.key.in_(list(keys)))


def registry_ids_taken(identifiers: Iterable[str]) -> AnySelect:
    """The stored registry ids with one of these identifiers (any registry)."""
    return (select(RegistryId.registry_name, RegistryId.identifier)
            .where(RegistryId.identifier.in_(list(identifiers))))


def live_study_ids(keys: Iterable[str]) -> AnySelect:
    """The keys and ids of the live studies among these keys."""
    return select(Study.key, Study.id).where(Study.key.in_(list(keys)), _s.deleted_at.is_(None))


def idempotency_record(actor_id: int, idempotency_key: str | None) -> AnySelect:
    """The answer stored for an actor's Idempotency-Key."""
    return select(IdempotencyRecord).where(IdempotencyRecord.actor_id == actor_id,
                                           IdempotencyRecord.idempotency_key == idempotency_key)


def key_used(actor_id: int, now: Any) -> Update:
    """Record when an API key last wrote."""
    return update(ApiKey).where(ApiKey.id == actor_id).values(last_used_at=now)
