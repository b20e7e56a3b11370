"""Evidence profiles (GRADE): what `POST /evidence-profiles` accepts and `GET` returns — the
same document; the server's fields (`certainty`, `summary_of_findings`, ids, versions, times)
are `readOnly` and ignored on the way in.

A profile is a question — labels for people plus the `/meta-analysis` parameters that answer
it, checked by the very model that route binds — the design of its evidence (RANDOMIZED
starts at HIGH, OBSERVATIONAL at LOW), and the five GRADE domains, each NONE, SERIOUS (one
level down) or VERY_SERIOUS (two levels down) with a reason.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from app.enums import Certainty, GradeRating, StudyDesign
from app.schemas.common import ApiModel, Name, PageToken, Text, Url
from app.schemas.filters import MetaAnalysisParams, _split_commas
from app.schemas.parts import read_only
from app.schemas.read import Page

DOMAINS = ("risk_of_bias", "inconsistency", "indirectness", "imprecision",
           "publication_bias")


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("a reason must say why: it cannot be blank")
    return value


Reason = Annotated[Text, AfterValidator(_non_blank)]
Label = Annotated[Name, Field(description="free text, as a reader of the profile sees it")]


class DomainRating(ApiModel):
    """One GRADE domain: how far it lowers the certainty, and why."""

    rating: GradeRating = Field(description="NONE, SERIOUS (one level down) or VERY_SERIOUS "
                                "(two levels down); lower case is accepted")
    reason: Reason | None = Field(None, description="why; required unless the rating is NONE")

    @field_validator("rating", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _reason_given(self) -> DomainRating:
        if self.rating != GradeRating.NONE and self.reason is None:
            raise ValueError(f"a {self.rating.value} rating needs a reason")
        return self


class GradeDomains(ApiModel):
    """The five GRADE domains, all required."""

    risk_of_bias: DomainRating
    inconsistency: DomainRating
    indirectness: DomainRating
    imprecision: DomainRating
    publication_bias: DomainRating


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "boolean": (bool,), "integer": (int,), "number": (int, float),
    "array": (list,), "null": (type(None),), "object": (dict,)}


def _declared_types(schema: dict[str, Any]) -> set[str]:
    options = schema.get("anyOf", [schema])
    return {o["type"] for o in options if "type" in o} or set(_JSON_TYPES)


def _json_typed(value: Any) -> Any:
    """The parameters arrive as JSON, not as a query string: each value must have the JSON type
    its schema declares (a query string's "true" or "0.95" is not a boolean or a number here),
    and each list item a string."""
    if not isinstance(value, dict):
        return value
    properties = MetaAnalysisParams.model_json_schema()["properties"]
    for name, given in value.items():
        schema = properties.get(name)
        if schema is None:
            continue  # an unknown name is refused by the model itself
        allowed = _declared_types(schema)
        fits = any(isinstance(given, _JSON_TYPES[t]) for t in allowed)
        if isinstance(given, bool) and "boolean" not in allowed:
            fits = False
        if isinstance(given, list) and any(not isinstance(i, str) for i in given):
            fits = False
        if not fits:
            raise ValueError(f"parameter {name!r} must be JSON {' or '.join(sorted(allowed))}")
    return value


class Question(ApiModel):
    """The question a profile grades: labels, and the /meta-analysis parameters that pool its
    evidence (the same names and values that route takes as query parameters)."""

    population: Label | None = None
    intervention: Label
    comparator: Label
    outcome: Label
    parameters: Annotated[MetaAnalysisParams, BeforeValidator(_json_typed)] = Field(
        description="the /meta-analysis query parameters of the question, e.g. "
        '{"intervention": ["MDMA"], "phase": ["PHASE3"], "instrument": ["CAPS-5"], '
        '"timepoint_months_max": 6}')


class ProfileSource(ApiModel):
    """Where the judgements come from: a citation or a URL, with a locator."""

    citation: Name | None = None
    source_url: Url | None = None
    locator: Name | None = Field(None, description='where in the source, e.g. "Table 3"')

    @model_validator(mode="after")
    def _names_something(self) -> ProfileSource:
        if not (self.citation or self.source_url):
            raise ValueError("a source needs a citation or a source_url")
        return self


class Curator(BaseModel):
    """The key that created the profile (its id and name, never the key)."""

    id: int
    name: str


class PooledFinding(BaseModel):
    """The pooled estimate of the question, as /meta-analysis answers it."""

    k: int = Field(description="studies pooled")
    studies: list[str] = Field(description="the keys of the studies pooled")
    participants: int | None = Field(
        description="participants of the pooled comparisons whose arm sizes are known; null "
        "when none is known")
    participants_known_for: int = Field(description="studies whose arm sizes are known")
    effect_type: str
    scale: Literal["identity", "log"] = Field(
        description="the scale of estimate and CI (log for ratios; see exponentiated)")
    model: str
    method: str
    estimate: float
    ci_low: float
    ci_high: float
    ci_level: float
    i2: float = Field(description="percent")
    exponentiated: dict[str, Any] | None = None


class SummaryOfFindings(BaseModel):
    """The profile's summary-of-findings row, computed when it is read: the pooled estimate
    of its question now (null, with the reason, when the question cannot be pooled) and the
    certainty."""

    outcome: str
    certainty: Certainty
    pooled: PooledFinding | None
    reason: str | None = Field(description="why nothing is pooled; null when pooled is set")
    meta_analysis: str = Field(description="the /meta-analysis URL of the question")


class EvidenceProfileDocument(ApiModel):
    """A GRADE evidence profile: a question, its study design, the five domains; the
    certainty and the summary of findings are computed."""

    question: Question
    study_design: StudyDesign = Field(description="RANDOMIZED starts at HIGH, OBSERVATIONAL "
                                      "at LOW")
    domains: GradeDomains
    sources: list[ProfileSource] = Field(default_factory=list, max_length=100)
    id: int | None = read_only("the profile's id")
    starting_level: Certainty | None = read_only("HIGH for RANDOMIZED, LOW for OBSERVATIONAL")
    certainty: Certainty | None = read_only(
        "the starting level lowered one level per SERIOUS and two per VERY_SERIOUS domain, "
        "never below VERY_LOW")
    summary_of_findings: SummaryOfFindings | None = read_only(
        "computed from the question's meta-analysis when the profile is read (lists leave "
        "it out)")
    created_by: Curator | None = read_only("the key that created the profile")
    version: int | None = read_only("the stored version (the ETag's number)")
    created_at: dt.datetime | None = read_only("when it was first stored")
    updated_at: dt.datetime | None = read_only("when it was last changed")


class ProfileListParams(BaseModel):
    """Which profiles, one keyset page at a time (in id order)."""

    model_config = ConfigDict(extra="forbid")

    certainty: list[Certainty] = Field([], description="only profiles of these certainties")
    page_size: int = Field(50, ge=1, le=1000)
    page_token: PageToken | None = None

    _split = field_validator("certainty", mode="before")(_split_commas)


class EvidenceProfilePage(Page[EvidenceProfileDocument]):
    """A page of evidence profiles (without their summary of findings)."""
