"""Facet counts and meta-analysis: query parameters and response shapes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from app.schemas.appraisal import RiskOfBiasSummary
from app.schemas.filters import StudyFilter, _split_commas

FacetName = Literal[
    "phase", "status", "study_type", "allocation", "masking", "intervention",
    "intervention_type", "condition", "country", "retraction_status", "follow_up",
    "has_results", "risk_of_bias", "flag",
]
FACETS: tuple[str, ...] = FacetName.__args__  # type: ignore[attr-defined]


class FacetParams(StudyFilter):
    """The study filter plus which facets to count (all when none is named)."""

    facet: list[FacetName] = Field(
        [], description="facet to count; repeat for several. risk_of_bias counts a study "
        "under each overall judgement any of its effect estimates has, and under NOT_ASSESSED "
        "when it has estimates and none is assessed (a study without estimates is in neither); "
        "flag counts the studies raising each type of registry-versus-publication flag")
    facet_limit: int = Field(100, ge=1, le=1000, description="most values per facet")

    _split_facet = field_validator("facet", mode="before")(_split_commas)


class FacetValue(BaseModel):
    value: Any
    count: int


class Facets(BaseModel):
    total: int = Field(description="studies the filter matches")
    facets: dict[str, list[FacetValue]] = Field(description="values, most frequent first")
    params: dict[str, str] = Field(
        description="per facet, the /studies parameter that selects one of its values "
        "(risk_of_bias has none: `max_risk_of_bias` narrows effect estimates, not studies)")


class PooledSummary(BaseModel):
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    z: float | None
    p_value: float


class PredictionInterval(BaseModel):
    low: float
    high: float
    df: int


class MetaAnalysisStudy(BaseModel):
    id: int
    label: str
    study_key: str
    study_title: str
    outcome: str
    instrument: str | None
    timepoint: str
    experimental_arm: str
    comparator_arm: str | None
    value: float
    ci_low: float | None
    ci_high: float | None
    yi: float = Field(description="the value on the pooling scale (log for ratios)")
    se: float = Field(description="standard error on the pooling scale")
    se_source: Literal["reported", "from_ci", "from_sample_sizes", "aggregated"]
    se_derived: bool
    pooled_ci_low: float
    pooled_ci_high: float
    n_experimental: int | None
    n_comparator: int | None
    origin: str
    retracted: bool
    aggregated_from: list[int] | None = Field(
        None, description="ids of the estimates aggregated into this one (per_study=aggregate)")
    weight_fixed: float = Field(description="percent")
    weight_random: float = Field(description="percent")
    risk_of_bias: RiskOfBiasSummary | None = Field(
        None, description="the estimate's risk of bias (of several aggregated, the most "
        "severe); null when not assessed")


class RiskOfBiasSensitivity(BaseModel):
    """The pooling again without the estimates judged above `max_risk_of_bias`
    (SOME_CONCERNS, or the caller's stricter maximum) and without those not assessed or
    judged NO_INFORMATION: an unjudged estimate cannot be shown to be free of high risk. The
    same figures as `/meta-analysis` with that `max_risk_of_bias`."""

    by: Literal["risk_of_bias"]
    max_risk_of_bias: Literal["LOW", "SOME_CONCERNS"]
    excluded_levels: list[str] = Field(
        description="overall judgements left out, NOT_ASSESSED for estimates without one")
    left_out: list[str] = Field(
        description="keys of the studies of the main pooling with an estimate left out here")
    k: int = Field(description="estimates pooled here (those left when it cannot pool)")
    reason: str | None = Field(description="why there is no estimate (too few remain to "
                               "pool); null when there is one")
    estimate: float | None
    se: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    tau2: float | None
    i2: float | None = Field(description="percent")
    exponentiated: dict[str, Any] | None = Field(
        description="ratio effect types: the estimate and CI on the ratio scale")


class MetaAnalysis(BaseModel):
    k: int
    effect_type: str
    model: Literal["random_effects", "mantel_haenszel"]
    method: Literal["DL", "REML", "MH"]
    per_study: Literal["first_listed", "aggregate"] | None
    rho: float | None
    hartung_knapp: bool
    ci_level: float
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    z: float | None
    t: float | None
    t_df: int | None
    p_value: float
    q: float
    df: int
    p_q: float
    i2: float = Field(description="percent")
    h2: float
    tau2: float | None
    tau: float | None
    prediction_interval: PredictionInterval | None
    fixed_effect: PooledSummary
    direction: dict[str, Any]
    include_retracted: bool
    studies: list[MetaAnalysisStudy]
    excluded: list[dict[str, Any]]
    warnings: list[str]
    exponentiated: dict[str, Any] | None = None
    sensitivity: RiskOfBiasSensitivity | None = Field(
        None, description="with sensitivity=risk_of_bias: the pooled estimate without the "
        "high-risk and unassessed estimates, beside this one")
