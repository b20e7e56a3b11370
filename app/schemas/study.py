"""The study document: what `POST /studies` accepts and `GET /studies/{key}` returns.

One document holds a study with everything nested. Inside it, arms, timepoints, outcome
measures and publications are referred to by their label, name or `ref`; every number that
is stored names at least one source. The document a read returns is accepted by a write
unchanged: the server's own fields are `readOnly` and ignored on the way in.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import Field, model_validator

from app.enums import (
    Allocation,
    EnrollmentType,
    InterventionModel,
    Masking,
    OverallStatus,
    Phase,
    PrimaryPurpose,
    StudyType,
)
from app.schemas.common import (
    ApiModel,
    Count,
    ItemList,
    Key,
    Months,
    Name,
    PartialDate,
    Short,
    Text,
)
from app.schemas.flags import Flag
from app.schemas.outcome import (
    AsReported,
    EffectEstimateIn,
    EffectSummary,
    OutcomeMeasureIn,
    OutcomeResultIn,
    Percent,
    count_from_percent,
    prints_as,
)
from app.schemas.parts import (
    ArmIn,
    ArmInterventionIn,
    PublicationIn,
    ReferencedBy,
    RegistryIdIn,
    RelationIn,
    SourceIn,
    Sources,
    TimepointIn,
    read_only,
)

__all__ = [
    "ArmIn", "ArmInterventionIn", "AsReported", "EffectEstimateIn", "OutcomeMeasureIn",
    "OutcomeResultIn", "Percent", "PublicationIn", "RegistryIdIn", "RelationIn", "SourceIn",
    "Sources", "StudyCreate", "StudyDocument", "TimepointIn", "check_document_references",
    "count_from_percent", "prints_as",
]


class ClaimIn(ApiModel):
    value: Short = Field(description="the value this source gives")
    sources: Annotated[list[SourceIn], Field(min_length=1, max_length=100)]


class ConflictIn(ApiModel):
    """A fact on which sources disagree: every value, each with its sources."""

    field: Short = Field(description="what the sources disagree on, e.g. enrollment")
    claims: Annotated[list[ClaimIn], Field(min_length=2, max_length=20)]
    resolution: Text | None = Field(None, description="which value the record uses, and why")


class StudyDocument(ApiModel):
    """A whole study: written in one transaction, read back the same."""

    key: Key = Field(description="NCT id when there is one, else a readable slug")
    title: Text
    acronym: Short | None = None
    study_type: StudyType
    phase: Phase | None = None
    overall_status: OverallStatus | None = None
    allocation: Allocation | None = None
    intervention_model: InterventionModel | None = None
    masking: Masking | None = None
    primary_purpose: PrimaryPurpose | None = None
    start_date: PartialDate | None = None
    completion_date: PartialDate | None = None
    enrollment: Count | None = None
    enrollment_type: EnrollmentType | None = None
    treatment_end_months: Months | None = Field(
        None, description="months from baseline to the last treatment session (sourced in the "
        "study's sources): places timepoints on both clocks")
    population: Text | None = None
    summary: Text | None = None
    sponsor: Name | None = None
    countries: ItemList[Name]
    notes: Text | None = Field(None, description="caveats")
    conflicts: Annotated[list[ConflictIn], Field(default_factory=list, max_length=100)]
    registry_ids: ItemList[RegistryIdIn]
    conditions: ItemList[Name]
    keywords: ItemList[Name]
    relations: ItemList[RelationIn]
    publications: ItemList[PublicationIn]
    arms: ItemList[ArmIn]
    timepoints: ItemList[TimepointIn]
    outcome_measures: ItemList[OutcomeMeasureIn]
    sources: Sources
    interventions: list[str] | None = read_only("every intervention of its arms, by name")
    referenced_by: list[ReferencedBy] | None = read_only("studies whose relations name this one")
    effects: list[EffectSummary] | None = read_only("every effect of its outcome measures")
    retracted: bool | None = read_only("every publication of the study is retracted")
    has_results: bool | None = read_only("it has at least one result or effect")
    follow_up_months_max: float | None = read_only("its longest follow-up, in months since "
                                                   "baseline")
    flags: list[Flag] | None = read_only(
        "where the registry record and the publications disagree (study reads only; "
        "computed, never written: see /flags)")
    version: int | None = read_only("the stored version (the ETag's number)")
    created_at: dt.datetime | None = read_only("when it was first stored")
    updated_at: dt.datetime | None = read_only("when it was last changed")

    @model_validator(mode="after")
    def _references_resolve(self) -> StudyDocument:
        check_document_references(self)
        return self


def _unique(values: list[str], what: str) -> set[str]:
    seen: set[str] = set()
    for value in values:
        if value.casefold() in seen:
            raise ValueError(f"duplicate {what}: {value!r}")
        seen.add(value.casefold())
    return {v for v in values}


def _check_sources(sources: list[SourceIn], refs: set[str], where: str) -> None:
    for source in sources:
        if source.publication is not None and source.publication not in refs:
            raise ValueError(f"{where}: source names unknown publication {source.publication!r}")


def check_document_references(doc: StudyDocument) -> None:
    """Every label a document uses must be defined in it, once."""
    refs = _unique([p.ref for p in doc.publications], "publication ref")
    arms = _unique([a.label for a in doc.arms], "arm label")
    timepoints = _unique([t.label for t in doc.timepoints], "timepoint label")
    _unique([o.name for o in doc.outcome_measures], "outcome measure name")
    _unique([f"{r.registry}:{r.identifier}" for r in doc.registry_ids], "registry id")
    if doc.enrollment is not None and not doc.sources:
        raise ValueError("enrollment needs a source in the study's sources")
    if doc.treatment_end_months is not None and not doc.sources:
        raise ValueError("treatment_end_months needs a source in the study's sources")
    _check_sources(doc.sources, refs, "study")
    for conflict in doc.conflicts:
        for claim in conflict.claims:
            _check_sources(claim.sources, refs, f"conflict {conflict.field!r}")
    for arm in doc.arms:
        _check_sources(arm.sources, refs, f"arm {arm.label!r}")
    for tp in doc.timepoints:
        _check_sources(tp.sources, refs, f"timepoint {tp.label!r}")
    for om in doc.outcome_measures:
        for r in om.results:
            where = f"outcome {om.name!r} result"
            if r.arm not in arms:
                raise ValueError(f"{where}: unknown arm {r.arm!r}")
            if r.timepoint not in timepoints:
                raise ValueError(f"{where}: unknown timepoint {r.timepoint!r}")
            _check_sources(r.sources, refs, where)
        for e in om.effects:
            where = f"outcome {om.name!r} effect"
            for label in (e.experimental_arm, e.comparator_arm):
                if label is not None and label not in arms:
                    raise ValueError(f"{where}: unknown arm {label!r}")
            if e.comparator_arm is not None and e.comparator_arm == e.experimental_arm:
                raise ValueError(f"{where}: a between-arm contrast needs two distinct arms; "
                                 "leave comparator_arm out for a within-arm change")
            if e.timepoint not in timepoints:
                raise ValueError(f"{where}: unknown timepoint {e.timepoint!r}")
            _check_sources(e.sources, refs, where)


# What POST and PUT accept: the document itself.
StudyCreate = StudyDocument
JsonDict = dict[str, Any]
