"""The parts of a study document that numbers hang on: sources, publications, arms and
timepoints. Read-only fields are filled in by the server: a read shows them, a write
ignores them, so a document read can be sent back unchanged."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import Field, model_validator

from app.enums import (
    Anchor,
    ArmType,
    InterventionType,
    PublicationRole,
    RelationType,
    RetractionStatus,
    TimepointRole,
)
from app.schemas.common import ApiModel, Count, ItemList, Key, Months, Name, Short, Text, Url

Ref = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$")]


def read_only(description: str) -> Any:
    """A field the server fills in: shown in reads, `readOnly` in the OpenAPI document, and
    ignored when a write sends it back."""
    return Field(None, exclude=True, description=f"read-only: {description}",
                 json_schema_extra={"readOnly": True})


class SourceIn(ApiModel):
    """Where a number comes from: a publication of this study, a registry record or a URL."""

    publication: Ref | None = Field(None, description="`ref` of a publication in this document")
    registry: Short | None = Field(None, description="registry record, e.g. NCT03537014")
    source_url: Url | None = None
    locator: Name | None = Field(None, description='where in the source, e.g. "Table 2"')

    @model_validator(mode="after")
    def _names_something(self) -> SourceIn:
        if not (self.publication or self.registry or self.source_url):
            raise ValueError("a source needs a publication, a registry record or a source_url")
        return self


Sources = Annotated[list[SourceIn], Field(default_factory=list, max_length=1000)]
RequiredSources = Annotated[list[SourceIn], Field(min_length=1, max_length=1000)]


class RegistryIdIn(ApiModel):
    registry: Short = Field(description="NCT, EudraCT, ISRCTN, ANZCTR, PROTOCOL, …")
    identifier: Short


class RelationIn(ApiModel):
    relation_type: RelationType
    target: Key = Field(description="key of the related study")


class ReferencedBy(ApiModel):
    relation_type: RelationType
    study: str = Field(description="key of the study that names this one")


class PublicationIn(ApiModel):
    ref: Ref = Field(description="handle used by `sources` in this document")
    role: PublicationRole
    id: int | None = read_only("the publication's id in /publications")
    doi: Annotated[str, Field(pattern=r"^10\.\S+/\S+$", max_length=200)] | None = None
    pmid: Annotated[str, Field(pattern=r"^[0-9]{1,9}$")] | None = None
    title: Text | None = None
    journal: Name | None = None
    year: Annotated[int, Field(ge=1800, le=2200)] | None = None
    volume: Short | None = None
    pages: Short | None = None
    first_author: Name | None = None
    citation: Text | None = None
    url: Url | None = None
    retraction_status: RetractionStatus = RetractionStatus.NONE
    retraction_date: dt.date | None = None
    retraction_notice: Text | None = None
    retraction_reason: Text | None = None


class ArmInterventionIn(ApiModel):
    name: Name = Field(description="intervention name or synonym; created when unknown")
    intervention: str | None = read_only("the vocabulary's name for it")
    type: InterventionType | None = None
    dose_mg: Annotated[float, Field(ge=0)] | None = None
    dose_text: Name | None = None
    sessions: Count | None = None
    notes: Text | None = None


class ArmIn(ApiModel):
    label: Name
    arm_type: ArmType
    description: Text | None = None
    n_randomized: Count | None = None
    n_completed: Count | None = None
    interventions: ItemList[ArmInterventionIn]
    notes: Text | None = None
    sources: Sources

    @model_validator(mode="after")
    def _sourced(self) -> ArmIn:
        if (self.n_randomized is not None or self.n_completed is not None) and not self.sources:
            raise ValueError("arm numbers need a source")
        return self


class Clock(ApiModel):
    """A timepoint's place on one clock, in months, and what it was worked out from."""

    months: float
    min: float | None = None
    max: float | None = None
    from_: str | None = Field(None, alias="from", description="the source-stated field or "
                              "the rule it was derived by")


class Clocks(ApiModel):
    since_baseline: Clock | None = None
    after_treatment: Clock | None = None


class TimepointIn(ApiModel):
    label: Name
    role: TimepointRole | None = Field(
        None, description="BASELINE, PRIMARY_ENDPOINT, END_OF_TREATMENT or FOLLOW_UP; without "
        "one, FOLLOW_UP when is_follow_up, BASELINE for a baseline anchor at month 0")
    anchor: Anchor | None = Field(None, description="what `months` count from")
    months: Months | None = None
    months_min: Months | None = None
    months_max: Months | None = None
    months_mean: Months | None = None
    months_sd: Months | None = None
    months_since_baseline: Months | None = Field(
        None, description="months from baseline (randomization), when the source says so")
    months_after_treatment: Months | None = Field(
        None, description="months after the last treatment session, when the source says so")
    n_assessed: Count | None = None
    n_eligible: Count | None = None
    controlled: bool | None = None
    is_follow_up: bool = Field(False, description="the same as role FOLLOW_UP")
    clocks: Clocks | None = read_only("the timepoint on both clocks, as derived")
    notes: Text | None = None
    sources: RequiredSources

    @model_validator(mode="after")
    def _range_ordered(self) -> TimepointIn:
        if (
            self.months_min is not None
            and self.months_max is not None
            and self.months_min > self.months_max
        ):
            raise ValueError("months_min is greater than months_max")
        if self.role is None:
            if self.is_follow_up:
                self.role = TimepointRole.FOLLOW_UP
            elif self.anchor == Anchor.BASELINE and self.months == 0:
                self.role = TimepointRole.BASELINE
        elif self.is_follow_up and self.role != TimepointRole.FOLLOW_UP:
            raise ValueError(f"is_follow_up contradicts role {self.role}")
        if self.is_follow_up != (self.role == TimepointRole.FOLLOW_UP):
            self.is_follow_up = not self.is_follow_up
        return self
