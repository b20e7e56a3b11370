"""The filter models: the one declaration of each filter set, bound as query parameters.

Enumerated and identifier filters take repeated or comma-separated values; free names
(condition, intervention, country, sponsor, instrument) take repeated values only, because
names such as "Korea, Republic of" contain commas.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.enums import (
    STANDARDIZED_EFFECTS,
    Allocation,
    Comparison,
    EffectType,
    FlagType,
    InterventionType,
    Masking,
    Origin,
    OutcomeRole,
    OverallStatus,
    Phase,
    RetractionStatus,
    RiskOfBiasLevel,
    StudyType,
)
from app.schemas.common import FilterText, PageToken


class FollowUpBucket(StrEnum):
    """Length of a study's longest follow-up (`follow_up_months_max`), in months."""

    UNDER_6 = "UNDER_6"
    FROM_6_TO_12 = "6_TO_12"
    FROM_12_TO_24 = "12_TO_24"
    FROM_24 = "24_PLUS"
    NONE = "NONE"


# [low, high) in months; NONE is a study without a timed follow-up.
FOLLOW_UP_BOUNDS: dict[FollowUpBucket, tuple[float | None, float | None]] = {
    FollowUpBucket.UNDER_6: (None, 6), FollowUpBucket.FROM_6_TO_12: (6, 12),
    FollowUpBucket.FROM_12_TO_24: (12, 24), FollowUpBucket.FROM_24: (24, None),
}

STUDY_SORTS = ("key", "start_date", "completion_date", "enrollment", "title", "updated_at")
# The keys of a study list item, each a `fields=` value.
STUDY_FIELDS = (
    "key", "title", "acronym", "study_type", "phase", "overall_status", "allocation",
    "intervention_model", "masking", "primary_purpose", "start_date", "completion_date",
    "enrollment", "enrollment_type", "treatment_end_months", "population", "summary",
    "sponsor", "countries", "notes", "conflicts",
)
META_FIELDS = ("retracted", "has_results", "follow_up_months_max", "version", "created_at",
               "updated_at")
LIST_EXTRA = ("registry_ids", "conditions", "interventions")
LIST_ITEM_KEYS = STUDY_FIELDS + LIST_EXTRA + META_FIELDS
STUDY_INCLUDES = ("arms", "outcomes", "timepoints", "publications", "effects")


MAX_RISK_OF_BIAS_DOC = (
    "keep only estimates whose risk-of-bias assessment's overall judgement is at most this "
    "level on the RoB 2 scale LOW < SOME_CONCERNS < HIGH (ROBINS-I: LOW is LOW, MODERATE is "
    "SOME_CONCERNS, SERIOUS and CRITICAL are HIGH); an estimate not assessed, or judged "
    "NO_INFORMATION, is left out whenever this is given")


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        return value  # not a list of strings (null, a number): its validation refuses it
    out: list[str] = []
    for item in value:
        parts = [part.strip() for part in str(item).split(",") if part.strip()]
        # An empty value is a value: a choice it is not, and a name it matches nothing.
        out.extend(parts or [""])
    return out


def _strip(value: Any) -> Any:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        return value  # not a list of strings (a JSON body may hold anything): refused
    return [str(v).strip() for v in value if str(v).strip()]


def _no_bool(value: Any) -> Any:
    """A number filter given true or false (a JSON body can; a query string cannot)."""
    if isinstance(value, bool):
        raise ValueError("a number, not true or false")
    return value


def _no_number(value: Any) -> Any:
    """A yes/no filter given a number (a JSON body can; a query string cannot)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("true or false, not a number")
    return value


# The models whose JSON form takes query-string values too (a saved search's filter and
# question); the others built on StudyFilter keep JSON's own types in their schemas (an
# evidence profile's question takes JSON values only).
_QUERY_STRING_MODELS: set[type[BaseModel]] = set()


def _query_string_forms(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """The filter as a JSON object (a saved search's) takes each value as a JSON value or as
    a query string gives it: a list as one string (comma-separated where the query takes
    that), a number or a yes/no as a string. Null only where a filter may be absent."""
    if model not in _QUERY_STRING_MODELS:
        return
    for prop in schema.get("properties", {}).values():
        if prop.get("type") == "array":
            prop["anyOf"] = [{"type": "array", "items": prop.pop("items")}, {"type": "string"}]
            del prop["type"]
        elif prop.get("type") in ("integer", "number", "boolean"):
            value = {k: prop.pop(k) for k in _VALUE_KEYWORDS if k in prop}
            prop["anyOf"] = [value, {"type": "string"}]
        elif any(form.get("type") in ("integer", "number", "boolean")
                 for form in prop.get("anyOf", [])):
            prop["anyOf"].append({"type": "string"})


# What a JSON Schema says of a number itself (the rest describes the property).
_VALUE_KEYWORDS = ("type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                   "multipleOf")


class StudyFilter(BaseModel):
    """Which studies: every filter optional, AND between filters, OR within one."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_query_string_forms)

    condition: list[FilterText] = Field([], description="condition name or synonym")
    intervention: list[FilterText] = Field([], description="intervention name or synonym")
    intervention_type: list[InterventionType] = []
    phase: list[Phase] = []
    status: list[OverallStatus] = []
    study_type: list[StudyType] = []
    allocation: list[Allocation] = []
    masking: list[Masking] = []
    country: list[FilterText] = []
    sponsor: list[FilterText] = []
    registry_id: list[FilterText] = Field([], description="NCT id or other registry identifier")
    registry: list[FilterText] = Field(
        [], description="studies with an identifier in this registry, e.g. NCT")
    instrument: list[FilterText] = Field([], description="outcome instrument, e.g. CAPS-5")
    min_enrollment: int | None = Field(None, ge=0, le=100_000_000)
    max_enrollment: int | None = Field(None, ge=0, le=100_000_000)
    start_year_min: int | None = Field(None, ge=1800, le=2200)
    start_year_max: int | None = Field(None, ge=1800, le=2200)
    min_follow_up_months: float | None = Field(
        None, ge=0, le=1200, description="a FOLLOW_UP timepoint at least this many months "
        "after treatment (its point, else mean, else lower bound)")
    max_follow_up_months: float | None = Field(
        None, ge=0, le=1200, description="the longest FOLLOW_UP timepoint at most this many "
        "months after treatment")
    follow_up: list[FollowUpBucket] = Field(
        [],
        description="longest follow-up: UNDER_6, 6_TO_12, 12_TO_24, 24_PLUS months or NONE")
    min_effect_size: float | None = Field(
        None, ge=0, le=1e6, description="a between-arm contrast of at least this size: d, g "
        "and SMD favouring the experimental arm by at least this much; for ratio types "
        "|log ratio| ≥ |log x| (2 and 0.5 ask the same); differences by magnitude")
    effect_size_type: list[EffectType] = Field(
        list(STANDARDIZED_EFFECTS),
        description="the effect types min_effect_size reads (default COHENS_D, HEDGES_G, SMD)")
    has_results: bool | None = None
    retraction_status: list[RetractionStatus] = Field(
        [],
        description="studies with a publication of this retraction status"
    )
    flag: list[FlagType] = Field(
        [], description="studies that raise a registry-versus-publication flag of this type "
        "(explained or not; see /flags)")
    include_retracted: bool | None = Field(
        None,
        description="lists show retracted studies unless false; effect-size filters leave "
        "retracted results out unless true",
    )
    q: FilterText | None = Field(None, min_length=1, max_length=200, description="free text")

    _split = field_validator(
        "intervention_type", "phase", "status", "study_type", "allocation", "masking",
        "registry_id", "registry", "follow_up", "retraction_status", "flag", "effect_size_type",
        mode="before",
    )(_split_commas)
    _names = field_validator(
        "condition", "intervention", "country", "sponsor", "instrument", mode="before"
    )(_strip)
    _numbers = field_validator(
        "min_enrollment", "max_enrollment", "start_year_min", "start_year_max",
        "min_follow_up_months", "max_follow_up_months", "min_effect_size", mode="before",
    )(_no_bool)
    _yes_no = field_validator("has_results", "include_retracted", mode="before")(_no_number)


class StudyListParams(StudyFilter):
    """The study filter plus shaping and paging of the list."""

    sort: str = Field(
        "key", description="one of " + ", ".join(STUDY_SORTS) + "; '-' for descending",
        json_schema_extra={"enum": [*STUDY_SORTS, *(f"-{s}" for s in STUDY_SORTS)]},
    )
    fields: list[FilterText] = Field(
        [], description="sparse fieldset: top-level keys to return (repeat, or separate with "
        "commas); a nested part also when it is included", json_schema_extra={
            "items": {"type": "string", "enum": [*LIST_ITEM_KEYS, "outcome_measures"]}})
    include: list[str] = Field(
        [], description="nested parts: " + ", ".join(STUDY_INCLUDES) + " (repeat, or separate "
        "with commas)",
        json_schema_extra={"items": {"type": "string", "enum": list(STUDY_INCLUDES)}})
    page_size: int = Field(50, ge=1, le=1000)
    page_token: PageToken | None = None
    count_total: bool = False

    _shaping = field_validator("fields", "include", mode="before")(_split_commas)

    @field_validator("sort")
    @classmethod
    def _known_sort(cls, v: str) -> str:
        if v.removeprefix("-") not in STUDY_SORTS:
            raise ValueError(f"sort must be one of {', '.join(STUDY_SORTS)}, optionally with '-'")
        return v

    @field_validator("include")
    @classmethod
    def _known_include(cls, v: list[str]) -> list[str]:
        unknown = sorted(set(v) - set(STUDY_INCLUDES))
        if unknown:
            raise ValueError(f"unknown include {unknown}; known: {', '.join(STUDY_INCLUDES)}")
        return v


class OutcomeFilter(StudyFilter):
    """Which effect estimates: the study filter plus outcome-level criteria.

    `instrument` here also narrows the estimates to outcomes on that instrument, and
    `include_retracted` defaults to false: retracted results are left out unless asked for.
    """

    study: list[FilterText] = Field([], description="study key (repeat for several)")
    comparison: list[Comparison] = Field(
        [Comparison.BETWEEN_ARMS], description="BETWEEN_ARMS contrasts (the default) or "
        "WITHIN_ARM changes, or both")
    effect_type: list[EffectType] = []
    origin: list[Origin] = Field([], description="REPORTED by the source or COMPUTED by us")
    role: list[OutcomeRole] = Field([], description="outcome role, e.g. PRIMARY")
    timepoint_months_min: float | None = Field(
        None, ge=0, le=1200, description="timepoint at least this many months since baseline")
    timepoint_months_max: float | None = Field(
        None, ge=0, le=1200, description="timepoint at most this many months since baseline")
    max_risk_of_bias: RiskOfBiasLevel | None = Field(None, description=MAX_RISK_OF_BIAS_DOC)

    _split_effect = field_validator("study", "effect_type", "origin", "role", "comparison",
                                    mode="before")(_split_commas)
    _months = field_validator("timepoint_months_min", "timepoint_months_max",
                              mode="before")(_no_bool)

    def study_filter(self) -> StudyFilter:
        """The study part, keeping studies whose results are retracted (the estimates'
        own flags decide, so a pooling can say what it left out)."""
        data = self.model_dump(include=set(StudyFilter.model_fields), exclude_unset=True)
        data["include_retracted"] = True if self.include_retracted else None
        return StudyFilter.model_validate(data)


class OutcomeListParams(OutcomeFilter):
    page_size: int = Field(50, ge=1, le=1000)
    page_token: PageToken | None = None


class MetaAnalysisParams(OutcomeFilter):
    method: Literal["DL", "REML", "MH"] = Field(
        "DL", description="τ² estimator of the random-effects model: DerSimonian–Laird "
        "(default) or REML; MH: Mantel–Haenszel fixed effect, for risk and odds ratios "
        "computed from counts")
    per_study: Literal["first_listed", "aggregate"] | None = Field(
        None, description="when a study gives several estimates: pool the first listed, or "
        "aggregate them into one with the within-study correlation `rho`; without it such a "
        "selection is a 422")
    rho: float = Field(0.6, ge=0, lt=1, description="within-study correlation for "
                       "per_study=aggregate")
    hartung_knapp: bool = Field(False, description="Hartung–Knapp adjusted CI and test (t)")
    ci_level: float = Field(0.95, gt=0.5, lt=1)
    sensitivity: Literal["risk_of_bias"] | None = Field(
        None, description="risk_of_bias: beside the pooled estimate, the same pooling "
        "without the estimates not at most SOME_CONCERNS (HIGH, SERIOUS, CRITICAL, "
        "NO_INFORMATION and not assessed), in `sensitivity`")

    _model_numbers = field_validator("rho", "ci_level", mode="before")(_no_bool)
    _model_yes_no = field_validator("hartung_knapp", mode="before")(_no_number)


class SavedQuestion(MetaAnalysisParams):
    """The parameters of GET /meta-analysis as a saved search's question: each value as a JSON
    value or as a query string gives it, as in the saved search's filter."""


_QUERY_STRING_MODELS.update({StudyFilter, SavedQuestion})
