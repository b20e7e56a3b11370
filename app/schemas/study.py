"""The study document: what `POST /studies` accepts and `GET /studies/{key}` returns.

One document holds a study with everything nested. Inside it, arms, timepoints, outcome
measures and publications are referred to by their label, name or `ref`; every number that
is stored names at least one source.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from pydantic import Field, model_validator

from app.enums import (
    RATIO_EFFECTS,
    Allocation,
    AnalysisPopulation,
    Anchor,
    ArmType,
    EffectType,
    EnrollmentType,
    InterventionModel,
    InterventionType,
    Masking,
    Orientation,
    OutcomeRole,
    OverallStatus,
    Phase,
    PrimaryPurpose,
    PublicationRole,
    PValueRelation,
    RelationType,
    RetractionStatus,
    StudyType,
    TimepointRole,
)
from app.schemas.common import (
    ApiModel,
    Count,
    Items,
    Key,
    Months,
    Name,
    PartialDate,
    Short,
    Text,
    Url,
)

Ref = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$")]
Percent = Annotated[str, Field(pattern=r"^(100(\.0{1,6})?|[0-9]{1,2}(\.[0-9]{1,6})?)$",
                               description="a percentage as printed, 0 to 100")]


def prints_as(percent: str, count: int, denominator: int) -> bool:
    """Whether count/denominator prints as `percent` at its precision (rounding half up)."""
    step = Decimal(1).scaleb(-len(percent.partition(".")[2]))
    return denominator > 0 and (Decimal(100 * count) / Decimal(denominator)).quantize(
        step, ROUND_HALF_UP) == Decimal(percent)


def count_from_percent(percent: str, denominator: int) -> int | None:
    """The count of `denominator` that prints as `percent`, when exactly one integer does."""
    if denominator <= 0:
        return None
    half = Decimal(1).scaleb(-len(percent.partition(".")[2])) / 2
    low = (Decimal(percent) - half) * denominator / 100
    high = (Decimal(percent) + half) * denominator / 100
    first, last = max(0, math.floor(low)), min(denominator, math.ceil(high))
    if last - first > 3:  # several integers fit for sure
        return None
    found = [k for k in range(first, last + 1) if prints_as(percent, k, denominator)]
    return found[0] if len(found) == 1 else None


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


class RegistryIdIn(ApiModel):
    registry: Short = Field(description="NCT, EudraCT, ISRCTN, ANZCTR, PROTOCOL, …")
    identifier: Short


class RelationIn(ApiModel):
    relation_type: RelationType
    target: Key = Field(description="key of the related study")


class PublicationIn(ApiModel):
    ref: Ref = Field(description="handle used by `sources` in this document")
    role: PublicationRole
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
    interventions: Items(ArmInterventionIn)
    notes: Text | None = None
    sources: Sources

    @model_validator(mode="after")
    def _sourced(self) -> ArmIn:
        if (self.n_randomized is not None or self.n_completed is not None) and not self.sources:
            raise ValueError("arm numbers need a source")
        return self


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
    notes: Text | None = None
    sources: Annotated[list[SourceIn], Field(min_length=1, max_length=1000)]

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


class OutcomeResultIn(ApiModel):
    arm: Name = Field(description="label of an arm of this study")
    timepoint: Name = Field(description="label of a timepoint of this study")
    n: Count | None = None
    mean: float | None = None
    sd: Annotated[float, Field(ge=0)] | None = None
    se: Annotated[float, Field(ge=0)] | None = None
    change_mean: float | None = None
    change_sd: Annotated[float, Field(ge=0)] | None = None
    change_se: Annotated[float, Field(ge=0)] | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    count: Count | None = Field(None, description="participants with the event")
    denominator: Count | None = Field(None, description="participants it is counted among")
    percent: Percent | None = Field(
        None, description='the percentage as printed, e.g. "71.2": with a denominator and no '
        "count, the count is derived when exactly one integer reproduces it")
    count_derived: bool = Field(
        False, description="read-only: the count was derived from `percent` (sending it back "
        "derives it again)")
    raw: Text | None = None
    notes: Text | None = None
    sources: Annotated[list[SourceIn], Field(min_length=1, max_length=1000)]

    @model_validator(mode="after")
    def _consistent(self) -> OutcomeResultIn:
        if self.count_derived:
            self.count = None
        if self.percent is not None and self.denominator is not None:
            if self.count is None:
                self.count = count_from_percent(self.percent, self.denominator)
                self.count_derived = self.count is not None
            elif not prints_as(self.percent, self.count, self.denominator):
                raise ValueError(f"count {self.count} of {self.denominator} is not "
                                 f"{self.percent}% at the printed precision")
        if self.count_derived and self.count is None:
            self.count_derived = False
        if (self.count is not None and self.denominator is not None
                and self.count > self.denominator):
            raise ValueError("count is greater than denominator")
        if self.ci_low is not None and self.ci_high is not None and self.ci_low > self.ci_high:
            raise ValueError("ci_low is greater than ci_high")
        return self


class AsReported(ApiModel):
    """A contrast as its source printed it, when that is not our direction."""

    orientation: Orientation = Field(
        description="COMPARATOR_VS_EXPERIMENTAL: printed as comparator minus (or over) "
        "experimental, or for d/g/SMD with the sign favouring the comparator")
    value: float
    ci_low: float | None = None
    ci_high: float | None = None
    reason: Text = Field(description="why the value is stored re-expressed")

    @model_validator(mode="after")
    def _complete(self) -> AsReported:
        if (self.ci_low is None) != (self.ci_high is None):
            raise ValueError("as_reported: give both ci_low and ci_high, or neither")
        return self


class EffectEstimateIn(ApiModel):
    experimental_arm: Name
    comparator_arm: Name | None = Field(
        None, description="the other arm of a between-arm contrast; null for a within-arm "
        "change (pre vs post in one arm)")
    timepoint: Name
    effect_type: EffectType
    value: float | None = Field(
        None, description="experimental minus comparator (ratios: over); d, g and SMD "
        "positive when they favour the experimental arm. Null only for a comparison reported "
        "by its p-value alone; derived from `as_reported` when that is given")
    ci_low: float | None = None
    ci_high: float | None = None
    ci_level: Annotated[float, Field(gt=0, lt=1)] | None = None
    se: Annotated[float, Field(ge=0)] | None = None
    p_value: Annotated[float, Field(ge=0, le=1)] | None = None
    p_value_relation: PValueRelation | None = None
    analysis_population: AnalysisPopulation | None = None
    as_reported: AsReported | None = None
    notes: Text | None = None
    sources: Annotated[list[SourceIn], Field(min_length=1, max_length=1000)]

    @model_validator(mode="after")
    def _consistent(self) -> EffectEstimateIn:
        if self.as_reported is not None:
            self._reexpress(self.as_reported)
        if self.value is None and self.p_value is None:
            raise ValueError("an effect needs a value, or a p_value when none was reported")
        if self.effect_type in RATIO_EFFECTS and any(
                x is not None and x <= 0 for x in (self.value, self.ci_low, self.ci_high)):
            raise ValueError(f"a {self.effect_type} and its CI must be greater than 0")
        if (self.ci_low is None) != (self.ci_high is None):
            raise ValueError("give both ci_low and ci_high, or neither")
        if self.ci_low is not None and self.ci_high is not None:
            if self.ci_low > self.ci_high:
                raise ValueError("ci_low is greater than ci_high")
            if self.ci_level is None:
                self.ci_level = 0.95
        if self.p_value_relation is not None and self.p_value is None:
            raise ValueError("p_value_relation without p_value")
        if self.p_value is not None and self.p_value_relation is None:
            self.p_value_relation = PValueRelation.EQ
        return self

    def _reexpress(self, printed: AsReported) -> None:
        """Our value and CI from the printed ones; given ones must agree with them."""
        value, low, high = printed.value, printed.ci_low, printed.ci_high
        if printed.orientation == Orientation.COMPARATOR_VS_EXPERIMENTAL:
            if self.effect_type in RATIO_EFFECTS:
                if any(x is not None and x <= 0 for x in (value, low, high)):
                    raise ValueError("as_reported: a ratio and its CI must be greater than 0")
                value = 1 / value
                low, high = (1 / high, 1 / low) if low is not None and high is not None else (
                    None, None)
            else:
                value = -value
                low, high = (-high, -low) if low is not None and high is not None else (
                    None, None)
        for name, ours in (("value", value), ("ci_low", low), ("ci_high", high)):
            given = getattr(self, name)
            if given is None:
                setattr(self, name, ours)
            elif ours is None or not math.isclose(given, ours, rel_tol=1e-9, abs_tol=1e-12):
                raise ValueError(f"{name} {given} does not agree with as_reported "
                                 f"re-expressed ({ours})")


class OutcomeMeasureIn(ApiModel):
    name: Name
    instrument: Short | None = None
    role: OutcomeRole
    unit: Short | None = None
    lower_is_better: bool | None = None
    description: Text | None = None
    notes: Text | None = None
    results: Items(OutcomeResultIn)
    effects: Items(EffectEstimateIn)


class ClaimIn(ApiModel):
    value: Short = Field(description="the value this source gives")
    sources: Annotated[list[SourceIn], Field(min_length=1, max_length=100)]


class ConflictIn(ApiModel):
    """A fact on which sources disagree: every value, each with its sources."""

    field: Short = Field(description="what the sources disagree on, e.g. enrollment")
    claims: Annotated[list[ClaimIn], Field(min_length=2, max_length=20)]
    resolution: Text | None = Field(None, description="which value the record uses, and why")


class StudyCreate(ApiModel):
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
    countries: Items(Name)
    notes: Text | None = Field(None, description="caveats")
    conflicts: Annotated[list[ConflictIn], Field(default_factory=list, max_length=100)]
    registry_ids: Items(RegistryIdIn)
    conditions: Items(Name)
    keywords: Items(Name)
    relations: Items(RelationIn)
    publications: Items(PublicationIn)
    arms: Items(ArmIn)
    timepoints: Items(TimepointIn)
    outcome_measures: Items(OutcomeMeasureIn)
    sources: Sources

    @model_validator(mode="after")
    def _references_resolve(self) -> StudyCreate:
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


def check_document_references(doc: StudyCreate) -> None:
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


def document_keys() -> list[str]:
    return list(StudyCreate.model_fields)


JsonDict = dict[str, Any]
