"""Registry-versus-publication flags: what a study read (`flags`) and `GET /flags` show, the
explanation a curator writes at `PUT /studies/{key}/flags/{flag_id}/explanation`, and the
filters of `/flags`.

A flag is computed from the study (its stored registry record, or its registry-sourced
numbers, against its publication-sourced ones) on every read; it is never written. Only the
explanation is stored.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from app.enums import FlagType
from app.schemas.common import NO_NUL, ApiModel, FilterText, PageToken
from app.schemas.parts import SourceIn, read_only

FlagId = Annotated[str, StringConstraints(pattern=r"^[A-Z_]+(\.[a-z0-9]{1,80})?$",
                                          max_length=200),
                   Field(description="the flag's stable id within its study: its type, and "
                         "for an outcome flag a dot and the outcome's name folded to letters "
                         "and digits (e.g. PRIMARY_OUTCOME_NOT_REPORTED.mace)")]
Compared = str | int | float | None


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("a reason must say why the flag is not a problem: it cannot be blank")
    return value


Reason = Annotated[str, StringConstraints(min_length=1, max_length=20_000),
                   AfterValidator(_non_blank), NO_NUL,
                   Field(description="why the discrepancy is not a problem (e.g. the "
                         "registry was amended before unblinding); not blank")]


class Explainer(ApiModel):
    """The key of the curator who explained a flag."""

    id: int
    name: str


class ComparedValues(ApiModel):
    registry_value: Compared = None
    published_value: Compared = None


class FlagExplanationDocument(ApiModel):
    """A curator's explanation of one flag; the answer of GET can be sent back by PUT."""

    reason: Reason
    flag_id: str | None = read_only("the flag explained")
    study_key: str | None = read_only("the study whose flag it explains")
    flag_type: FlagType | None = read_only("the type of the flag explained")
    compared: ComparedValues | None = read_only("the values the flag compared when it was "
                                                "explained")
    explained_by: Explainer | None = read_only("the curator's key")
    version: int | None = read_only("the stored version (the ETag's number)")
    created_at: dt.datetime | None = read_only("when it was first stored")
    updated_at: dt.datetime | None = read_only("when it was last changed")


class FlagExplanationShown(ApiModel):
    """The explanation of a flag as the flag shows it."""

    reason: str
    explained_by: Explainer
    compared: ComparedValues = Field(description="the values compared when it was explained")
    version: int
    updated_at: dt.datetime


class Flag(ApiModel):
    """A discrepancy between a study's registry record and its publications (read-only)."""

    id: FlagId
    type: FlagType
    study: str = Field(description="the study's key")
    registry: str | None = Field(None, description="the registry record compared (its id)")
    detail: str = Field(description="what differs, in words, with the rule that matched")
    rule: str = Field(description="the rule the flag was raised by")
    registry_value: Compared = Field(None, description="what the registry record says")
    published_value: Compared = Field(None, description="what the publications report")
    compared_on: str | None = Field(
        None, description="what was compared: a clock for a timepoint (MONTHS_SINCE_BASELINE, "
        "MONTHS_AFTER_TREATMENT), the publications' RANDOMIZED count or the STUDY_ENROLLMENT "
        "for enrollment")
    sources: list[SourceIn] = Field(description="where each compared value comes from")
    explained: bool
    explanation: FlagExplanationShown | None = None


def _split_commas(value: Any) -> Any:
    """Repeated or comma-separated values as one list (an empty value stays a value)."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    out: list[str] = []
    for item in items:
        out.extend([part.strip() for part in str(item).split(",") if part.strip()] or [""])
    return out


class FlagFilter(BaseModel):
    """Which flags `GET /flags` lists (all given filters combine with AND)."""

    model_config = ConfigDict(extra="forbid")

    type: list[FlagType] = Field([], description="flag types (repeat or comma-separate)")
    study: list[FilterText] = Field([], description="study keys")
    registry_id: list[FilterText] = Field(
        [], description="registry identifiers the study holds, e.g. NCT03475563")
    explained: bool | None = Field(None, description="true: only explained flags; false: only "
                                   "flags nobody explained yet")
    page_size: int = Field(50, ge=1, le=1000)
    page_token: PageToken | None = None

    _split = field_validator("type", "study", "registry_id", mode="before")(_split_commas)


class FlagPage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[Flag]
    next_page_token: str | None = Field(None, description="pass as page_token for the next "
                                        "page")
    total_count: Literal[None] = None
