"""Query parameters of the familiar dialects: ClinicalTrials.gov API v2 and FHIR search.

Both are parsed from the raw query string, because their names (`query.cond`, `_count`) are not
Python identifiers; unknown parameters are refused (400), as ClinicalTrials.gov does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from app.enums import OverallStatus, Phase
from app.errors import BadRequest, validation_errors
from app.schemas.common import FilterText, PageToken


def _split(value: Any) -> list[str]:
    """Comma- or pipe-separated values, as ClinicalTrials.gov accepts them."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [p.strip() for item in items for p in str(item).replace("|", ",").split(",")
            if p.strip()]


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @classmethod
    def parse(cls, pairs: Iterable[tuple[str, str]]) -> Any:
        """The model from the query string's pairs; a repeated name lists its values."""
        data: dict[str, Any] = {}
        for name, value in pairs:
            data.setdefault(name, []).append(value)
        aliases = {f.alias or n: n for n, f in cls.model_fields.items()}
        unknown = sorted(set(data) - set(aliases))
        if unknown:
            raise BadRequest(
                f"unknown parameter {unknown[0]!r}; known: {', '.join(sorted(aliases))}",
                errors=[{"loc": ["query", u], "msg": "unknown parameter",
                         "type": "extra_forbidden"} for u in unknown])
        single = {k: (v if k in cls.LISTS else v[-1]) for k, v in data.items()}
        try:
            return cls.model_validate(single)
        except ValidationError as exc:
            errors = validation_errors(exc.errors())
            where = ".".join(str(x) for x in errors[0]["loc"])
            raise BadRequest(f"{where}: {errors[0]['msg']}", errors=errors) from None

    LISTS: ClassVar[frozenset[str]] = frozenset()


class CtgovQuery(_Query):
    """The ClinicalTrials.gov API v2 `/studies` parameters we answer."""

    LISTS: ClassVar[frozenset[str]] = frozenset({"filter.overallStatus", "filter.ids", "fields"})

    cond: FilterText | None = Field(None, alias="query.cond", min_length=1, max_length=200)
    intr: FilterText | None = Field(None, alias="query.intr", min_length=1, max_length=200)
    term: FilterText | None = Field(None, alias="query.term", min_length=1, max_length=200)
    overall_status: list[OverallStatus] = Field([], alias="filter.overallStatus")
    ids: list[FilterText] = Field([], alias="filter.ids", max_length=1000)
    fields: list[FilterText] = Field([], alias="fields")
    page_size: int = Field(10, alias="pageSize", ge=1, le=1000)
    page_token: PageToken | None = Field(None, alias="pageToken")
    count_total: bool = Field(False, alias="countTotal")
    format: Literal["json", "csv"] = "json"
    # Our text has no markup: both of the registry's renderings of it are the same here.
    markup_format: Literal["markdown", "legacy"] = Field("markdown", alias="markupFormat")

    _lists = field_validator("overall_status", "ids", "fields", mode="before")(_split)

    @field_validator("ids")
    @classmethod
    def _nct_ids(cls, v: list[str]) -> list[str]:
        bad = [x for x in v if not (x.upper().startswith("NCT") and x[3:].isdigit())]
        if bad:
            raise ValueError(f"not an NCT id: {bad[0]!r}")
        return [x.upper() for x in v]


class CtgovStudyQuery(_Query):
    """Parameters of `/studies/{nctId}`."""

    LISTS: ClassVar[frozenset[str]] = frozenset({"fields"})

    fields: list[FilterText] = Field([], alias="fields")
    format: Literal["json", "csv"] = "json"
    markup_format: Literal["markdown", "legacy"] = Field("markdown", alias="markupFormat")

    _lists = field_validator("fields", mode="before")(_split)


class CtgovVersion(BaseModel):
    """The registry's `/version` answer."""

    apiVersion: str = Field(description="the ClinicalTrials.gov API version followed "
                                        "(semantic versioning)", examples=["2.0.5"])
    dataTimestamp: str = Field(description="when the data last changed, UTC, "
                                           "yyyy-MM-ddTHH:mm:ss", examples=["2026-12-01T17:00:00"])


class FhirStudyQuery(_Query):
    """FHIR search parameters for ResearchStudy."""

    LISTS: ClassVar[frozenset[str]] = frozenset({"identifier", "condition", "status", "phase"})

    identifier: list[FilterText] = []
    condition: list[FilterText] = []
    keyword: FilterText | None = Field(None, min_length=1, max_length=200)
    status: list[OverallStatus] = []
    phase: list[Phase] = []
    count: int = Field(20, alias="_count", ge=1, le=1000)
    cursor: str | None = Field(None, alias="_cursor", max_length=2000)
    total: Literal["none", "accurate"] = Field("none", alias="_total")

    _lists = field_validator("status", "phase", mode="before")(_split)

    @field_validator("identifier", mode="before")
    @classmethod
    def _token_value(cls, v: Any) -> list[str]:
        """Comma-separated `system|value` tokens search by their value."""
        items = v if isinstance(v, list) else [v]
        return [p.strip().rsplit("|", 1)[-1] for x in items for p in str(x).split(",")
                if p.strip()]


class FhirEvidenceQuery(_Query):
    """FHIR search parameters for Evidence."""

    LISTS: ClassVar[frozenset[str]] = frozenset({"_id", "study"})

    id: list[FilterText] = Field([], alias="_id")
    study: list[FilterText] = []
    count: int = Field(20, alias="_count", ge=1, le=1000)
    cursor: str | None = Field(None, alias="_cursor", max_length=2000)
    total: Literal["none", "accurate"] = Field("none", alias="_total")

    _lists = field_validator("id", "study", mode="before")(_split)

    @field_validator("study")
    @classmethod
    def _reference(cls, v: list[str]) -> list[str]:
        return [x.removeprefix("ResearchStudy/") for x in v]


class OutcomeIssue(BaseModel):
    severity: Literal["fatal", "error", "warning", "information"]
    code: str
    diagnostics: str | None = None


class OperationOutcome(BaseModel):
    """A FHIR R5 OperationOutcome: how FHIR routes answer an error."""

    resourceType: Literal["OperationOutcome"]
    issue: list[OutcomeIssue] = Field(min_length=1)


# Answers of the dialects, as far as this server shapes them: the records and resources inside
# are the registry's and HL7's shapes, documented by them and passed through whole.


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class CtgovRecord(_Open):
    """A ClinicalTrials.gov API v2 study record (only the requested parts when `fields` is
    given)."""

    protocolSection: dict[str, Any] | None = None
    resultsSection: dict[str, Any] | None = None
    hasResults: bool | None = None


class CtgovPage(BaseModel):
    """One page of `/studies`, as the registry answers it."""

    studies: list[CtgovRecord]
    nextPageToken: str | None = Field(None, description="absent on the last page")
    totalCount: int | None = Field(None, description="only with countTotal=true")


class FhirResource(_Open):
    """A FHIR R5 resource (ResearchStudy, Evidence, CapabilityStatement)."""

    resourceType: str
    id: str | None = None


class FhirBundle(_Open):
    """A FHIR R5 searchset Bundle of one page."""

    resourceType: Literal["Bundle"]
    type: Literal["searchset"]
    total: int | None = None
    link: list[dict[str, Any]] = []
    entry: list[dict[str, Any]] = []
