"""What the read endpoints answer, as documented in the OpenAPI document.

The bytes are built where that is fastest (see app/services/documents.py); these models
describe them, and the test suite checks every answer against the schema of its route.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Generic, Optional, TypeVar

from pydantic import BaseModel, ConfigDict, Field, create_model

from app.enums import (
    AnalysisPopulation,
    Anchor,
    Comparison,
    Direction,
    EffectType,
    Favours,
    InterventionType,
    Origin,
    OutcomeRole,
    PublicationRole,
    PValueRelation,
    RegulatoryEventType,
    RetractionStatus,
    TimepointRole,
)
from app.schemas.appraisal import STATUS_DOC, RiskOfBiasStatus, RiskOfBiasSummary
from app.schemas.outcome import AsReported, Nnt
from app.schemas.parts import SourceIn
from app.schemas.study import StudyDocument

T = TypeVar("T")


class ReadDoc(BaseModel):
    """An answer's shape: every field it carries is declared."""

    model_config = ConfigDict(extra="forbid")


class Page(ReadDoc, Generic[T]):
    items: list[T]
    next_page_token: str | None = Field(None, description="pass as page_token for the next page")
    total_count: int | None = Field(None, description="with count=true: every match")


def _partial(model: type[BaseModel], name: str, doc: str) -> type[BaseModel]:
    """`model` with every field optional: a list item carries the fields asked for."""
    fields: dict[str, Any] = {
        field_name: (Optional[info.annotation], Field(  # noqa: UP045 - a runtime type
            None, description=info.description, alias=info.alias))
        for field_name, info in model.model_fields.items()}
    return create_model(name, __base__=ReadDoc, __doc__=doc, **fields)


StudyListItem = _partial(
    StudyDocument, "StudyListItem",
    "A study in a list: its own fields, registry ids, conditions and interventions, plus the "
    "nested parts named by `include` (or only the keys named by `fields`).")


class HistoryActor(ReadDoc):
    id: int
    name: str


class HistoryEntry(ReadDoc):
    id: int
    at: dt.datetime
    action: str = Field(description="create, replace, patch, delete, retraction, import, …")
    version: int | None
    actor: HistoryActor | None
    reason: str | None
    changes: dict[str, Any] = Field(description="per field: before and after")


class InterventionRead(ReadDoc):
    id: int
    name: str
    type: InterventionType
    description: str | None
    synonyms: list[str]
    study_count: int


class ConditionRead(ReadDoc):
    id: int
    name: str
    mesh_term: str | None
    synonyms: list[str]
    study_count: int


class PublicationStudy(ReadDoc):
    study: str
    role: PublicationRole


class PublicationFields(ReadDoc):
    id: int
    doi: str | None
    pmid: str | None
    title: str | None
    journal: str | None
    year: int | None
    volume: str | None
    pages: str | None
    first_author: str | None
    citation: str | None
    url: str | None
    retraction_status: RetractionStatus
    retraction_date: dt.date | None
    retraction_notice: str | None
    retraction_reason: str | None


class PublicationRead(PublicationFields):
    created_at: dt.datetime
    updated_at: dt.datetime
    studies: list[PublicationStudy]


class RetractedStudy(ReadDoc):
    key: str
    retracted: bool
    version: int
    retracted_results: int
    retracted_effects: int


class RetractionResult(PublicationFields):
    """The publication as it now stands, and what its notice changed in each study."""

    studies: list[RetractedStudy]


class RegulatoryEventRead(ReadDoc):
    id: int
    key: str
    agency: str | None
    jurisdiction: str | None
    event_type: RegulatoryEventType
    date: str
    product: str | None
    sponsor: str | None
    summary: str
    vote_for: int | None
    vote_against: int | None
    details: dict[str, Any]
    notes: str | None
    source_url: str
    sources: list[SourceIn]
    intervention: str | None
    condition: str | None


class TimepointRow(ReadDoc):
    id: int
    study_key: str
    study_title: str
    label: str
    role: TimepointRole | None
    anchor: Anchor | None
    months: float | None
    months_min: float | None
    months_max: float | None
    months_mean: float | None
    months_sd: float | None
    months_since_baseline: float | None
    months_after_treatment: float | None
    baseline_clock: float | None
    baseline_clock_min: float | None
    baseline_clock_max: float | None
    baseline_clock_source: str | None
    treatment_clock: float | None
    treatment_clock_min: float | None
    treatment_clock_max: float | None
    treatment_clock_source: str | None
    n_assessed: int | None
    n_eligible: int | None
    controlled: bool | None
    is_follow_up: bool
    notes: str | None


class CitedPublication(ReadDoc):
    doi: str | None
    pmid: str | None
    title: str | None
    citation: str | None
    retraction_status: RetractionStatus


class CitedSource(ReadDoc):
    """A source of an effect estimate, with the publication it names spelled out."""

    publication: CitedPublication | None
    registry: str | None
    source_url: str | None
    locator: str | None


class OutcomeRow(ReadDoc):
    """One effect estimate with its study, outcome and timepoint."""

    id: int
    study_key: str
    study_title: str
    outcome: str
    instrument: str | None
    role: OutcomeRole
    unit: str | None
    lower_is_better: bool | None
    timepoint: str
    timepoint_role: TimepointRole | None
    timepoint_months: float | None
    timepoint_months_after_treatment: float | None
    experimental_arm: str
    comparator_arm: str | None
    effect_type: EffectType
    value: float | None
    ci_low: float | None
    ci_high: float | None
    ci_level: float | None
    se: float | None
    p_value: float | None
    p_value_relation: PValueRelation | None
    analysis_population: AnalysisPopulation | None
    origin: Origin
    as_reported: AsReported | None
    inputs: dict[str, Any] | None
    retracted: bool
    notes: str | None
    comparison: Comparison
    direction: Direction | None
    favours: Favours | None
    nnt: Nnt | None
    sources: list[CitedSource]
    risk_of_bias: RiskOfBiasSummary | None = Field(
        description="its risk-of-bias assessment at a glance; null when not assessed")
    risk_of_bias_status: RiskOfBiasStatus = Field(description=STATUS_DOC)


class Excluded(ReadDoc):
    count: int
    include_with: str = Field(description="the parameter that brings them in")


class OutcomePage(Page[OutcomeRow]):
    excluded: dict[str, Excluded] | None = Field(
        None, description="on the first page: what the filter left out by default, and why")


class Health(ReadDoc):
    status: str


class Ready(ReadDoc):
    status: str
    schema_revision: str | None = None


class VersionInfo(ReadDoc):
    version: str
    schema_revision: str | None
    data_version: str
    audit_entries: int
    last_audit_entry_id: int | None


class ImportedStudy(ReadDoc):
    nct_id: str
    key: str
    action: str = Field(description="created, updated or unchanged")
    version: int
    location: str
    report: dict[str, Any]


class ImportResult(ReadDoc):
    imported: list[ImportedStudy]


class DryRun(ReadDoc):
    """A write with dry_run=true: every check passed, nothing was written."""

    dry_run: bool
    would_status: int = Field(description="the status the write would have answered")
    result: Any = Field(description="the answer the write would have given")


class StudyPage(Page[StudyListItem]):  # type: ignore[valid-type]
    """A keyset page of studies."""


class HistoryPage(Page[HistoryEntry]):
    """A page of a study's changes, oldest first."""


class InterventionPage(Page[InterventionRead]):
    """A page of the intervention vocabulary."""


class ConditionPage(Page[ConditionRead]):
    """A page of the condition vocabulary."""


class PublicationPage(Page[PublicationRead]):
    """A page of publications."""


class RegulatoryEventPage(Page[RegulatoryEventRead]):
    """A page of regulatory events, oldest first."""


class TimepointPage(Page[TimepointRow]):
    """A page of timepoints with their studies."""

